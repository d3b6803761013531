import GuestMemory

/// A 2D resource of one guest: its image in server memory, and the guest memory that
/// backs it (pixels come from there on TRANSFER_TO_HOST_2D, VIRTIO 1.2 §5.7.6.8).
/// Every pixel format of the 2D command set is 4 bytes; rows are `width * 4` bytes apart
/// both here and in the backing (the driver's dumb buffers have exactly that pitch).
final class GpuResource {
    /// VIRTIO_GPU_FORMAT_* values of the 2D formats (§5.7.6.8).
    static let formats: Set<UInt32> = [1, 2, 3, 4, 67, 68, 121, 134]
    static let bytesPerPixel = 4

    let id: UInt32
    let format: UInt32
    let width: Int
    let height: Int
    /// The image, copy on write: a scanout that shows the whole resource shows this buffer
    /// itself, and a TRANSFER_TO_HOST_2D then writes into another (`PixelStore`).
    private(set) var pixels: PixelStore
    /// The bounding rectangle of what was transferred since the last RESOURCE_FLUSH that covered
    /// all of it (nil: nothing): outside it, every scanout of the whole resource shows the image.
    var unflushed: GpuRect?
    private(set) var backing: [GpuMemoryEntry] = []
    /// Where each backing entry starts in the backing (a running sum of the lengths), so a
    /// transfer finds a row's entry by binary search instead of walking every entry per row.
    private var starts: [UInt64] = []
    /// The sum of the backing entries' lengths.
    var backingLength: UInt64 { (starts.last ?? 0) + UInt64(backing.last?.length ?? 0) }

    var stride: Int { width * Self.bytesPerPixel }
    var hasBacking: Bool { !backing.isEmpty }
    var imageBytes: Int { width * height * Self.bytesPerPixel }
    /// The image as it is now, copied out (a cursor's 64×64).
    var image: [UInt8] { Array(pixels.bytes) }

    init(id: UInt32, format: UInt32, width: Int, height: Int) {
        self.id = id
        self.format = format
        self.width = width
        self.height = height
        pixels = PixelStore(width: width, height: height)
        pixels.keepSpares(false)
    }

    /// Whether a scanout shows the resource (set by the device): only then are spare buffers kept.
    var isShown = false {
        didSet { pixels.keepSpares(isShown) }
    }

    /// Attaches `entries`, each of which must lie in guest memory now.
    func attach(_ entries: [GpuMemoryEntry], memory: GuestMemory) throws(GpuError) {
        guard !hasBacking else { throw .unspecified }
        var total: UInt64 = 0
        var starts: [UInt64] = []
        starts.reserveCapacity(entries.count)
        for entry in entries {
            guard entry.length > 0 else { throw .unspecified }
            do { _ = try memory.segments(at: GuestAddress(entry.address), length: UInt64(entry.length)) } catch { throw .unspecified }
            starts.append(total)
            total += UInt64(entry.length)
        }
        backing = entries
        self.starts = starts
    }

    func detach() {
        backing = []
        starts = []
    }

    /// Copies `rect` from the backing into the image: row h comes from backing offset
    /// `offset + h * stride`. The rectangle must fit the image and every byte it reads must lie
    /// within the backing (INVALID_PARAMETER otherwise: QEMU would copy short, AVP refuses).
    /// The backing is translated again now: the guest's memory map may have changed since ATTACH.
    func transfer(_ rect: GpuRect, offset: UInt64, memory: GuestMemory) throws(GpuError) {
        guard hasBacking else { throw .invalidResourceID }
        guard rect.fits(width: width, height: height) else { throw .invalidParameter }
        guard !rect.isEmpty else { return }
        let rowBytes = Int(rect.width) * Self.bytesPerPixel
        let rows = Int(rect.height)
        let (last, overflow) = offset.addingReportingOverflow(UInt64(rows - 1) * UInt64(stride) + UInt64(rowBytes))
        guard !overflow, last <= backingLength else { throw .invalidParameter }
        let destination = Int(rect.y) * stride + Int(rect.x) * Self.bytesPerPixel
        // The rect is overwritten whole unless the backing fails midway: then part of it keeps
        // older pixels of this same resource (or zeros), as QEMU's short copy keeps old ones.
        let image = pixels.writable(overwriting: rect)
        unflushed = unflushed.map { $0.union(rect) } ?? rect
        // Whole rows: one contiguous run in both.
        if rect.x == 0, Int(rect.width) == width {
            try copyFromBacking(at: offset, count: rows * stride, to: destination, of: image, memory: memory)
            return
        }
        for row in 0..<rows {
            try copyFromBacking(at: offset + UInt64(row * stride), count: rowBytes, to: destination + row * stride, of: image, memory: memory)
        }
    }

    /// Copies `count` bytes at `offset` of the backing (across entries) to `image[destination...]`.
    private func copyFromBacking(at offset: UInt64, count: Int, to destination: Int, of image: UnsafeMutableRawBufferPointer,
                                 memory: GuestMemory) throws(GpuError) {
        // The last entry starting at or before `offset`.
        var low = 0, high = starts.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if starts[middle] <= offset { low = middle } else { high = middle }
        }
        var skip = offset - starts[low], done = 0
        for entry in backing[low...] where done < count {
            let length = UInt64(entry.length)
            if skip >= length { skip -= length; continue }
            let take = Int(min(length - skip, UInt64(count - done)))
            let (start, overflow) = entry.address.addingReportingOverflow(skip)
            guard !overflow, let slices = try? memory.segments(at: GuestAddress(start), length: UInt64(take)) else { throw .unspecified }
            var at = destination + done
            for slice in slices {
                do { try slice.read(into: UnsafeMutableRawBufferPointer(rebasing: image[at..<(at + slice.count)]), from: 0) } catch {
                    throw .unspecified
                }
                at += slice.count
            }
            done += take
            skip = 0
        }
        guard done == count else { throw .invalidParameter }
    }
}
