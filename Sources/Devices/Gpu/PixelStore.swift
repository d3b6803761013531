#if canImport(Glibc)
import Glibc
#endif

/// Pixels in server memory: one allocation of 4-byte pixels, freed with its last reference.
///
/// Immutable while shared: only the owner of the one reference writes it (`PixelStore`
/// checks `isKnownUniquelyReferenced` first), so whoever took a reference (the display
/// writer sending a frame to QEMU) reads it without a lock and sees the pixels as they were
/// when it took them, while the device goes on writing into another buffer.
final class PixelBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    /// `count` bytes, all zero: never what the process's memory held before (another VM's
    /// pixels), even where a failed TRANSFER_TO_HOST_2D leaves part of a new buffer unwritten.
    /// calloc: fresh pages come zero from the kernel without being written.
    init(count: Int) {
        guard let base = calloc(max(count, 1), 1) else { fatalError("out of memory for \(count) bytes of pixels") }
        bytes = UnsafeMutableRawBufferPointer(start: base, count: count)
    }

    deinit { free(bytes.baseAddress) }
}

/// A `width`×`height` image (4 bytes per pixel, rows `width * 4` apart) that is written in
/// place while its owner holds the only reference to its buffer, and otherwise, copy on
/// write, into a spare buffer (or a new one) that becomes the image.
///
/// A spare is brought up to date by copying only what was written since it stopped being the
/// image (the bounding rectangle of those writes) and is not about to be overwritten anyway:
/// nothing for a full-frame write, a few rows for a small one. So a reader holding the image
/// (`buffer`) costs the writer no copy of it, and at most `maxSpares` + 1 buffers of the image's
/// size exist per store, plus those readers still hold.
struct PixelStore {
    static let bytesPerPixel = 4
    /// Spares kept: one per reader that may hold an older image (QEMU's display writer, and the
    /// scanout's frame for a resource it shows), so steady traffic allocates nothing.
    static let maxSpares = 2

    private struct Spare {
        var buffer: PixelBuffer
        /// Where it differs from `buffer`: the bounding rectangle of all writes since it was the image.
        var stale: GpuRect?
    }

    let width: Int
    let height: Int
    /// The image. Shared with readers; written only through `writable`.
    private(set) var buffer: PixelBuffer
    private var spares: [Spare] = []
    /// `buffer` came from another store (`adopt`): it is not this store's to keep as a spare.
    private var borrowed = false
    /// Whether buffers that readers let go are kept for later writes (`keepSpares`).
    private(set) var keepsSpares = true

    /// An all-black image (sizes were validated by the caller: a scanout's mode or a resource's bounds).
    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        buffer = PixelBuffer(count: width * height * Self.bytesPerPixel)
    }

    var stride: Int { width * Self.bytesPerPixel }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(buffer.bytes) }
    var whole: GpuRect { .whole(width: width, height: height) }

    /// The bytes to write into, holding the current image: `overwriting` is the part (within the
    /// image) the caller will write in full, nil if it may change any byte. Valid until the next
    /// mutation of this store.
    mutating func writable(overwriting rect: GpuRect?) -> UnsafeMutableRawBufferPointer {
        if !isKnownUniquelyReferenced(&buffer) { replaceShared(overwriting: rect) }
        let changed = rect ?? whole
        for i in spares.indices { spares[i].stale = spares[i].stale.map { $0.union(changed) } ?? changed }
        return buffer.bytes
    }

    /// Shows `other` (a buffer of this image's size, another store's image) without a copy; this
    /// store's own buffers are let go. Later writes go to a buffer of this store's own.
    mutating func adopt(_ other: PixelBuffer) {
        precondition(other.bytes.count == buffer.bytes.count, "adopted pixels of another size")
        buffer = other
        spares = []
        borrowed = true
    }

    /// Spares cost memory beyond the image: a resource keeps them only while a scanout shows
    /// it, so a guest's images cost at most 2 more buffers per scanout, never per resource.
    mutating func keepSpares(_ keep: Bool) {
        keepsSpares = keep
        if !keep { spares = [] }
    }

    /// Someone else holds `buffer`: make a spare that nobody holds (or a new buffer) the image,
    /// with the current contents outside `rect`.
    private mutating func replaceShared(overwriting rect: GpuRect?) {
        var next: Spare?
        for i in spares.indices {
            guard isKnownUniquelyReferenced(&spares[i].buffer) else { continue }
            next = spares.remove(at: i)
            break
        }
        let fresh = next ?? Spare(buffer: PixelBuffer(count: buffer.bytes.count), stale: whole)
        if let stale = fresh.stale, rect?.intersection(stale) != stale {
            Self.copyRows(stale, from: bytes, to: fresh.buffer.bytes, stride: stride)
        }
        let old = buffer
        buffer = fresh.buffer
        // The old image lacks what is about to be written: `writable` marks that stale.
        if !borrowed, keepsSpares { spares.append(Spare(buffer: old, stale: nil)) }
        borrowed = false
        if spares.count > Self.maxSpares { spares.removeFirst() }
    }

    /// Copies `rect` between two images of `stride`-byte rows (both hold it: it is within the image).
    static func copyRows(_ rect: GpuRect, from source: UnsafeRawBufferPointer, to destination: UnsafeMutableRawBufferPointer, stride: Int) {
        guard !rect.isEmpty, let from = source.baseAddress, let to = destination.baseAddress else { return }
        let start = Int(rect.y) * stride + Int(rect.x) * bytesPerPixel
        let rowBytes = Int(rect.width) * bytesPerPixel
        if rowBytes == stride {
            to.advanced(by: start).copyMemory(from: from.advanced(by: start), byteCount: rowBytes * Int(rect.height))
            return
        }
        for row in 0..<Int(rect.height) {
            let at = start + row * stride
            to.advanced(by: at).copyMemory(from: from.advanced(by: at), byteCount: rowBytes)
        }
    }
}
