#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Logging
import Synchronization
import SystemCalls

/// A sink that keeps a PNG of every scanout (`NAME-N.png`) and of every composed display
/// (`display-NAME.png`) up to date in a directory, written atomically, at most twice a
/// second each, on its own thread: the picture a person (or a test, or `avp screenshot`)
/// looks at, and what is left after a crash or power-off.
public final class ScanoutSnapshots: ScanoutSink, DisplaySink, @unchecked Sendable {
    public static let interval = 500

    private let directory: String
    private let name: String
    private let logger: Logger
    /// Frames to write, by the path they go to.
    private let dirty = Mutex<[String: ScanoutFrame]>([:])
    private let stopped = Atomic<Bool>(false)
    private var thread: OSThread?

    /// Writes `directory/NAME-N.png` for scanout N.
    public init(directory: String, name: String, logger: Logger) throws {
        self.directory = directory
        self.name = name
        self.logger = logger
        thread = try OSThread(name: "avp-gpu-png") { [weak self] in
            while let self, !self.stopped.load(ordering: .relaxed) {
                self.writeDirty()
                MonotonicClock.sleep(milliseconds: Self.interval)
            }
        }
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        writeDirty()
    }

    public func path(of scanout: Int) -> String { "\(directory)/\(name)-\(scanout).png" }
    public func path(ofDisplay display: String) -> String { Self.path(ofDisplay: display, in: directory) }
    public static func path(ofDisplay display: String, in directory: String) -> String { "\(directory)/display-\(display).png" }

    public func scanoutChanged(_ index: Int, frame: ScanoutFrame) { dirty.withLock { $0[path(of: index)] = frame } }
    public func scanoutUpdated(_ index: Int, rect: GpuRect, frame: ScanoutFrame) { dirty.withLock { $0[path(of: index)] = frame } }
    public func displayComposed(_ name: String, frame: ScanoutFrame, generation: UInt64) {
        dirty.withLock { $0[path(ofDisplay: name)] = frame }
    }
    public func cursorChanged(_ index: Int, image: CursorImage?) {}
    public func cursorMoved(_ index: Int, x: UInt32, y: UInt32, visible: Bool) {}

    private func writeDirty() {
        let frames: [String: ScanoutFrame] = dirty.withLock { d in
            let taken = d
            d = [:]
            return taken
        }
        for (path, frame) in frames {
            let snapshot = frame.snapshot()
            // A scanout the guest disabled (or a VM that stopped) keeps its last picture.
            guard snapshot.width > 0 else { continue }
            let png = PNGEncoder.encode(width: snapshot.width, height: snapshot.height, bgrx: snapshot.pixels)
            do { try Data(png).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                logger.warning("cannot write \(path): \(error)")
            }
        }
    }
}
