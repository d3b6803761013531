import Foundation
import SystemCalls

/// A server's statistics as a file a person or `avp status` reads: rewritten atomically once a
/// second on its own thread while the server runs, and once more when it stops.
struct StatisticsFile: Sendable {
    let path: String
    let contents: @Sendable () -> [UInt8]?

    /// Starts the once-a-second writer.
    func start() {
        _ = try? OSThread(name: "avp-stats") {
            while true {
                write()
                MonotonicClock.sleep(milliseconds: 1000)
            }
        }
    }

    func write() {
        guard let bytes = contents() else { return }
        try? Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
