import Foundation
import Logging
import Synchronization
import SystemCalls

/// A sink that keeps a PNG of every scanout up to date in a directory (`NAME-N.png`,
/// written atomically, at most twice a second per scanout, on its own thread): the
/// picture a person (or a test) looks at, and what is left after a crash or power-off.
public final class ScanoutSnapshots: ScanoutSink, @unchecked Sendable {
    public static let interval = 500

    private let directory: String
    private let name: String
    private let logger: Logger
    private let dirty = Mutex<[Int: ScanoutFrame]>([:])
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

    public func scanoutChanged(_ index: Int, frame: ScanoutFrame) { dirty.withLock { $0[index] = frame } }
    public func scanoutUpdated(_ index: Int, rect: GpuRect, frame: ScanoutFrame) { dirty.withLock { $0[index] = frame } }
    public func cursorChanged(_ index: Int, image: CursorImage?) {}
    public func cursorMoved(_ index: Int, x: UInt32, y: UInt32, visible: Bool) {}

    private func writeDirty() {
        let frames: [Int: ScanoutFrame] = dirty.withLock { d in
            let taken = d
            d = [:]
            return taken
        }
        for (index, frame) in frames {
            let snapshot = frame.snapshot()
            let path = self.path(of: index)
            // A scanout the guest disabled (or a VM that stopped) keeps its last picture.
            guard snapshot.width > 0 else { continue }
            let png = PNGEncoder.encode(width: snapshot.width, height: snapshot.height, bgrx: snapshot.pixels)
            do { try Data(png).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                logger.warning("cannot write \(path): \(error)")
            }
        }
    }
}
