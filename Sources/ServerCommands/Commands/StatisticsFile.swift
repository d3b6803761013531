#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemCalls

/// A server's statistics as a file a person or `avp status` reads: rewritten atomically once a
/// second on its own thread while the server runs, and once more when it stops.
public struct StatisticsFile: Sendable {
    public let path: String
    public let contents: @Sendable () -> [UInt8]?

    public init(path: String, contents: @escaping @Sendable () -> [UInt8]?) {
        self.path = path
        self.contents = contents
    }

    /// Starts the once-a-second writer.
    public func start() {
        _ = try? OSThread(name: "avp-stats") {
            while true {
                write()
                MonotonicClock.sleep(milliseconds: 1000)
            }
        }
    }

    public func write() {
        guard let bytes = contents() else { return }
        try? Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
