import Synchronization

/// What one scanout shows, in the server's own memory: the guest's pixels are copied
/// here on RESOURCE_FLUSH, so sinks (QEMU's display, the compositor, screenshots) read
/// a scanout without touching guest memory or the guest's resources, from any thread.
///
/// Pixels are 4 bytes each, B, G, R, X in memory (VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, what
/// Linux uses; also pixman's x8r8g8b8 on little-endian), rows `width * 4` bytes apart.
public final class ScanoutFrame: Sendable {
    public struct Snapshot: Sendable {
        public var width: Int
        public var height: Int
        /// Bumped by every change, so a reader can tell whether anything happened since.
        public var generation: UInt64
        public var pixels: [UInt8]
    }

    private struct State {
        var width = 0
        var height = 0
        var generation: UInt64 = 0
        var pixels: [UInt8] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Shows a `width`×`height` image, all black (0×0: disabled). Sizes were validated by the device.
    public func reshape(width: Int, height: Int) {
        state.withLock { s in
            guard s.width != width || s.height != height else { return }
            s.width = width
            s.height = height
            s.pixels = [UInt8](repeating: 0, count: width * height * 4)
            s.generation &+= 1
        }
    }

    /// Copies `rect` (within the frame) from rows of `sourceStride` bytes starting at `sourceOffset`
    /// of `source`, the flushed resource's image. Rows that would fall outside either are skipped.
    public func copy(_ rect: GpuRect, from source: UnsafeRawBufferPointer, sourceOffset: Int, sourceStride: Int) {
        state.withLock { s in
            guard rect.fits(width: s.width, height: s.height), !rect.isEmpty else { return }
            let rowBytes = Int(rect.width) * 4
            s.pixels.withUnsafeMutableBytes { destination in
                for row in 0..<Int(rect.height) {
                    let from = sourceOffset + row * sourceStride
                    let to = (Int(rect.y) + row) * s.width * 4 + Int(rect.x) * 4
                    guard from >= 0, from + rowBytes <= source.count, to + rowBytes <= destination.count else { continue }
                    destination.baseAddress!.advanced(by: to).copyMemory(from: source.baseAddress!.advanced(by: from), byteCount: rowBytes)
                }
            }
            s.generation &+= 1
        }
    }

    public var size: (width: Int, height: Int) { state.withLock { ($0.width, $0.height) } }
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// The whole frame.
    public func snapshot() -> Snapshot { state.withLock { Snapshot(width: $0.width, height: $0.height, generation: $0.generation, pixels: $0.pixels) } }

    /// Reads the pixels in place, under the frame's lock (no copy): `body` gets the bytes
    /// (`width * height * 4`, rows `width * 4` apart), the size and the generation. The lock is
    /// held while `body` runs, so the writer (the device thread) waits: keep it short, and
    /// never touch this frame again from inside it. For the compositor and display sinks.
    public func withPixels<R>(_ body: (_ pixels: UnsafeRawBufferPointer, _ width: Int, _ height: Int, _ generation: UInt64) -> R) -> R {
        let result = state.withLock { s in
            s.pixels.withUnsafeBytes { Unchecked(body($0, s.width, s.height, s.generation)) }
        }
        return result.value
    }

    /// Changes the pixels in place under the frame's lock and bumps the generation; returns
    /// the new generation. For the compositor, which owns its output frames.
    @discardableResult
    func withMutablePixels(_ body: (_ pixels: UnsafeMutableRawBufferPointer, _ width: Int, _ height: Int) -> Void) -> UInt64 {
        state.withLock { s in
            let (width, height) = (s.width, s.height)
            s.pixels.withUnsafeMutableBytes { body($0, width, height) }
            s.generation &+= 1
            return s.generation
        }
    }

    /// Carries a value that is not Sendable out of the lock: it was made inside `body` and
    /// belongs to the caller alone.
    private struct Unchecked<Value>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    /// The pixels of `rect` as tight rows (`rect.width * 4` bytes each), or nil if it is not within the frame.
    public func pixels(in rect: GpuRect) -> [UInt8]? {
        state.withLock { s in
            guard rect.fits(width: s.width, height: s.height) else { return nil }
            let rowBytes = Int(rect.width) * 4
            var out = [UInt8](repeating: 0, count: rowBytes * Int(rect.height))
            out.withUnsafeMutableBytes { destination in
                s.pixels.withUnsafeBytes { source in
                    for row in 0..<Int(rect.height) {
                        let from = (Int(rect.y) + row) * s.width * 4 + Int(rect.x) * 4
                        destination.baseAddress!.advanced(by: row * rowBytes).copyMemory(from: source.baseAddress!.advanced(by: from), byteCount: rowBytes)
                    }
                }
            }
            return out
        }
    }
}
