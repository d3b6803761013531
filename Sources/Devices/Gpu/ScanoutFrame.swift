import Synchronization

/// What one scanout shows, in the server's own memory: the guest's pixels are copied
/// here on RESOURCE_FLUSH (or the resource's image buffer is shown itself, `show`), so sinks
/// (QEMU's display, the compositor, screenshots) read a scanout without touching guest memory
/// or anything the guest can still change, from any thread.
///
/// Pixels are 4 bytes each, B, G, R, X in memory (VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, what
/// Linux uses; also pixman's x8r8g8b8 on little-endian), rows `width * 4` bytes apart.
///
/// The pixels live in a `PixelStore`: a reader that must not hold the lock for long (QEMU's
/// display writer, blocked in sendmsg until QEMU reads) takes the current buffer (`shared()`)
/// and reads it unlocked; the device's next flush then writes into another buffer instead of
/// waiting or copying the frame out first.
public final class ScanoutFrame: Sendable {
    public struct Snapshot: Sendable {
        public var width: Int
        public var height: Int
        /// Bumped by every change, so a reader can tell whether anything happened since.
        public var generation: UInt64
        public var pixels: [UInt8]
    }

    /// The frame's pixels as they were when taken: never changed afterwards, whatever the
    /// device does to the frame (a later change goes to another buffer). Hold it only as long
    /// as it is read: while it is held, every change costs the frame a buffer of its own.
    struct Shared: Sendable {
        let buffer: PixelBuffer
        let width: Int
        let height: Int
        let generation: UInt64

        /// `body` gets the bytes (`width * height * 4`, rows `width * 4` apart); the buffer
        /// lives at least until it returns.
        func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            withExtendedLifetime(buffer) { body(UnsafeRawBufferPointer(buffer.bytes)) }
        }
    }

    private struct State {
        var store = PixelStore(width: 0, height: 0)
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Shows a `width`×`height` image, all black (0×0: disabled). Sizes were validated by the device.
    public func reshape(width: Int, height: Int) {
        state.withLock { s in
            guard s.store.width != width || s.store.height != height else { return }
            s.store = PixelStore(width: width, height: height)
            s.generation &+= 1
        }
    }

    /// Copies `rect` (within the frame) from rows of `sourceStride` bytes starting at `sourceOffset`
    /// of `source`, the flushed resource's image. Rows that would fall outside either are skipped.
    public func copy(_ rect: GpuRect, from source: UnsafeRawBufferPointer, sourceOffset: Int, sourceStride: Int) {
        state.withLock { s in
            guard rect.fits(width: s.store.width, height: s.store.height), !rect.isEmpty else { return }
            let rowBytes = Int(rect.width) * 4, rows = Int(rect.height), frameStride = s.store.stride
            let lastFrom = sourceOffset + (rows - 1) * sourceStride
            // Only a rect written in full may skip bringing an older buffer's copy of it up to date.
            let whole = sourceOffset >= 0 && lastFrom >= 0 && lastFrom + rowBytes <= source.count
            let destination = s.store.writable(overwriting: whole ? rect : nil)
            for row in 0..<rows {
                let from = sourceOffset + row * sourceStride
                let to = (Int(rect.y) + row) * frameStride + Int(rect.x) * 4
                guard from >= 0, from + rowBytes <= source.count, to + rowBytes <= destination.count else { continue }
                destination.baseAddress!.advanced(by: to).copyMemory(from: source.baseAddress!.advanced(by: from), byteCount: rowBytes)
            }
            s.generation &+= 1
        }
    }

    /// Shows `buffer`, a resource's image of exactly this frame's size, without copying it:
    /// the resource writes its next TRANSFER_TO_HOST_2D into another buffer while this one is
    /// held (`PixelStore`), so the frame keeps what was flushed. `buffer` is `width`×`height`;
    /// false (nothing changed) when that is not the frame's size.
    func show(_ buffer: PixelBuffer, width: Int, height: Int) -> Bool {
        state.withLock { s in
            guard width == s.store.width, height == s.store.height,
                  buffer.bytes.count == width * height * PixelStore.bytesPerPixel else { return false }
            s.store.adopt(buffer)
            s.generation &+= 1
            return true
        }
    }

    public var size: (width: Int, height: Int) { state.withLock { ($0.store.width, $0.store.height) } }
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// The pixels as they are now, to read without the frame's lock (see `Shared`).
    func shared() -> Shared {
        state.withLock { Shared(buffer: $0.store.buffer, width: $0.store.width, height: $0.store.height, generation: $0.generation) }
    }

    /// The whole frame (a copy of its pixels).
    public func snapshot() -> Snapshot {
        let frame = shared()
        let pixels = frame.withBytes { bytes in
            [UInt8](unsafeUninitializedCapacity: bytes.count) { out, initialized in
                if let base = bytes.baseAddress, bytes.count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: base, byteCount: bytes.count) }
                initialized = bytes.count
            }
        }
        return Snapshot(width: frame.width, height: frame.height, generation: frame.generation, pixels: pixels)
    }

    /// Reads the pixels in place, under the frame's lock (no copy): `body` gets the bytes
    /// (`width * height * 4`, rows `width * 4` apart), the size and the generation. The lock is
    /// held while `body` runs, so the writer (the device thread) waits: keep it short, and
    /// never touch this frame again from inside it. For the compositor and display sinks.
    public func withPixels<R>(_ body: (_ pixels: UnsafeRawBufferPointer, _ width: Int, _ height: Int, _ generation: UInt64) -> R) -> R {
        let result = state.withLock { s in
            Unchecked(body(s.store.bytes, s.store.width, s.store.height, s.generation))
        }
        return result.value
    }

    /// Changes the pixels in place under the frame's lock and bumps the generation; returns
    /// the new generation. For the compositor, which owns its output frames.
    @discardableResult
    func withMutablePixels(_ body: (_ pixels: UnsafeMutableRawBufferPointer, _ width: Int, _ height: Int) -> Void) -> UInt64 {
        state.withLock { s in
            body(s.store.writable(overwriting: nil), s.store.width, s.store.height)
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
        let frame = shared()
        guard rect.fits(width: frame.width, height: frame.height) else { return nil }
        let rowBytes = Int(rect.width) * 4, count = rowBytes * Int(rect.height)
        guard count > 0 else { return [] }
        // Every byte is written below: no zero fill first (a 1080p frame's 8 MB).
        return [UInt8](unsafeUninitializedCapacity: count) { destination, initialized in
            frame.withBytes { source in
                for row in 0..<Int(rect.height) {
                    let from = (Int(rect.y) + row) * frame.width * 4 + Int(rect.x) * 4
                    UnsafeMutableRawPointer(destination.baseAddress!).advanced(by: row * rowBytes)
                        .copyMemory(from: source.baseAddress!.advanced(by: from), byteCount: rowBytes)
                }
            }
            initialized = count
        }
    }
}
