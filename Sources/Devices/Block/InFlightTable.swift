#if canImport(Glibc)
import Glibc
#endif
import GuestMemory
import Virtio

/// A request handed to the I/O engine and not yet completed. It holds its chain
/// (and so the guest memory its buffers live in) until the kernel is done.
struct InFlightRequest {
    enum Kind { case read, write, flush, discard, writeZeroes }

    var kind = Kind.read
    var queue: DeviceQueue?
    var chain: DescriptorChain?
    var status: GuestSlice?
    /// Bytes the data transfer must move (reads and writes).
    var expected = 0
    /// Engine operations still outstanding (one per range for discard/write-zeroes).
    var pending = 0
    var failed = false
    /// Write-through mode: make a discard/write-zeroes stable with fdatasync before completing.
    var syncAfter = false
    var ranges: [BlockRange] = []
}

/// Slots for in-flight requests, each with its own iovec array at a fixed address
/// (the kernel reads it after submission). Grows on demand, never shrinks.
final class InFlightTable {
    private(set) var requests: [InFlightRequest] = []
    private var vectors: [UnsafeMutablePointer<iovec>] = []
    private var free: [Int] = []
    let vectorsPerRequest: Int
    private(set) var count = 0

    init(vectorsPerRequest: Int) { self.vectorsPerRequest = vectorsPerRequest }

    deinit { vectors.forEach { $0.deallocate() } }

    func allocate() -> Int {
        count += 1
        if let slot = free.popLast() { return slot }
        requests.append(InFlightRequest())
        vectors.append(.allocate(capacity: vectorsPerRequest))
        return requests.count - 1
    }

    func release(_ slot: Int) {
        requests[slot] = InFlightRequest()
        free.append(slot)
        count -= 1
    }

    func vectors(of slot: Int) -> UnsafeMutablePointer<iovec> { vectors[slot] }

    subscript(slot: Int) -> InFlightRequest {
        get { requests[slot] }
        _modify { yield &requests[slot] }
    }

    /// In-flight requests of one queue.
    func count(queue index: Int) -> Int {
        requests.reduce(0) { $0 + ($1.queue?.index == index ? 1 : 0) }
    }
}
