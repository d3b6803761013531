#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// An `AsyncFileIO` for files used through the page cache: writes that need not reach the
/// disk run in place, on the calling thread, when they are prepared; everything else goes to
/// an io_uring (its own, or the server loop's: `LoopRingFileIO`).
///
/// Why: ext4 and tmpfs cannot copy into the page cache without possibly blocking
/// (`pwritev2(RWF_NOWAIT)` fails with EOPNOTSUPP on both here, kernel 6.18), so io_uring
/// hands every buffered write to an io-wq worker thread and posts its completion back with
/// task work and an inter-processor interrupt. That hand-off costs more than the copy:
/// `bench/block`'s random writes took 1.5–1.8× the CPU per request through the ring
/// (perf: half of the server's samples in `iou-wrk`, 7 % in the IPI alone). qemu-storage-daemon
/// pays the same.
///
/// What stays on the ring: reads (io_uring completes page-cache hits inline and waits for
/// misses without a thread), writes that must be stable (RWF_DSYNC), fdatasync and fallocate:
/// everything that waits for the disk. A write in place can still sleep when the kernel
/// throttles dirty pages; that stalls only the thread doing it, which serves one device of
/// one VM.
public final class BufferedWritesInPlace: AsyncFileIO, @unchecked Sendable {
    private let ring: AsyncFileIO
    private var done: [IOUring.Completion] = []
    private var next = 0

    public init(ring: AsyncFileIO) { self.ring = ring }

    public var completionDescriptor: Int32? { ring.completionDescriptor }
    public var pendingSubmissions: UInt32 { ring.pendingSubmissions }

    public func prepareRead(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, userData: UInt64) -> Bool {
        ring.prepareRead(fd: fd, vectors: vectors, count: count, offset: offset, userData: userData)
    }

    public func prepareWrite(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, dataSync: Bool, userData: UInt64) -> Bool {
        if dataSync {
            return ring.prepareWrite(fd: fd, vectors: vectors, count: count, offset: offset, dataSync: true, userData: userData)
        }
        let result = avp_pwritev2(fd, vectors, Int32(count), off_t(offset), 0)
        done.append(IOUring.Completion(userData: userData, result: result < 0 ? -avp_errno() : Int32(clamping: result)))
        return true
    }

    public func prepareDataSync(fd: Int32, userData: UInt64) -> Bool {
        ring.prepareDataSync(fd: fd, userData: userData)
    }

    public func prepareFallocate(fd: Int32, mode: Int32, offset: UInt64, length: UInt64, userData: UInt64) -> Bool {
        ring.prepareFallocate(fd: fd, mode: mode, offset: offset, length: length, userData: userData)
    }

    /// Never waits for the ring while writes done in place are still to be collected: they
    /// are the completions the caller is waiting for.
    public func submit(waitFor: UInt32) throws(Errno) {
        try ring.submit(waitFor: next < done.count ? 0 : waitFor)
    }

    /// Writes done in place first, in the order they were prepared, then the ring's.
    public func nextCompletion() -> IOUring.Completion? {
        if next < done.count {
            defer { next += 1 }
            return done[next]
        }
        if !done.isEmpty {
            done.removeAll(keepingCapacity: true)
            next = 0
        }
        return ring.nextCompletion()
    }
}
