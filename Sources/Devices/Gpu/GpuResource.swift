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
    var image: [UInt8]
    private(set) var backing: [GpuMemoryEntry] = []
    /// Where each backing entry starts in the backing (a running sum of the lengths), so a
    /// transfer finds a row's entry by binary search instead of walking every entry per row.
    private var starts: [UInt64] = []
    /// The sum of the backing entries' lengths.
    var backingLength: UInt64 { (starts.last ?? 0) + UInt64(backing.last?.length ?? 0) }

    var stride: Int { width * Self.bytesPerPixel }
    var hasBacking: Bool { !backing.isEmpty }
    var imageBytes: Int { image.count }

    init(id: UInt32, format: UInt32, width: Int, height: Int) {
        self.id = id
        self.format = format
        self.width = width
        self.height = height
        image = [UInt8](repeating: 0, count: width * height * Self.bytesPerPixel)
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
        // Whole rows: one contiguous run in both.
        if rect.x == 0, Int(rect.width) == width {
            try copyFromBacking(at: offset, count: rows * stride, to: destination, memory: memory)
            return
        }
        for row in 0..<rows {
            try copyFromBacking(at: offset + UInt64(row * stride), count: rowBytes, to: destination + row * stride, memory: memory)
        }
    }

    /// Copies `count` bytes at `offset` of the backing (across entries) to `image[destination...]`.
    private func copyFromBacking(at offset: UInt64, count: Int, to destination: Int, memory: GuestMemory) throws(GpuError) {
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
            // Not a throwing closure: typed throws through withUnsafeMutableBytes crashes Swift 6.3's IRGen.
            var failed = false
            image.withUnsafeMutableBytes { out in
                var at = destination + done
                for slice in slices {
                    do { try slice.read(into: UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + slice.count)]), from: 0) } catch {
                        failed = true
                        return
                    }
                    at += slice.count
                }
            }
            if failed { throw .unspecified }
            done += take
            skip = 0
        }
        guard done == count else { throw .invalidParameter }
    }
}
