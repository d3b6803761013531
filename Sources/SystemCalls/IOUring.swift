#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// An io_uring instance (raw syscalls via CAVPShim) for asynchronous file I/O:
/// vectored reads and writes, fdatasync and fallocate. Owned by one thread.
/// The ring's own descriptor is pollable and readable exactly while completions
/// wait in the completion queue: an epoll loop watches it (level-triggered, so
/// completions reaped right after `submit` cause no wake-up, and completions posted
/// later — by io-wq workers or by task work in this thread — always do).
public final class IOUring: @unchecked Sendable {
    public struct Completion: Sendable {
        public let userData: UInt64
        /// Bytes transferred, or a negative errno.
        public let result: Int32

        public init(userData: UInt64, result: Int32) {
            self.userData = userData
            self.result = result
        }
    }

    private var ring = avp_uring()
    public let entries: UInt32

    /// A ring with room for `entries` submissions in flight.
    public init(entries: UInt32) throws(Errno) {
        let rc = avp_uring_init(&ring, entries)
        guard rc == 0 else { throw Errno(-rc, call: "io_uring_setup") }
        self.entries = ring.sq_entries
    }

    deinit { avp_uring_exit(&ring) }

    /// The ring's descriptor: readable while completions are waiting.
    public var pollDescriptor: Int32 { ring.fd }

    /// Whether io_uring works here (kernels can disable it, sandboxes can filter it).
    public static var isAvailable: Bool { (try? IOUring(entries: 2)) != nil }

    /// Prepares a vectored read; false when the submission queue is full (submit, then retry).
    public func prepareRead(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, userData: UInt64) -> Bool {
        avp_uring_prep_readv(&ring, fd, vectors, UInt32(count), offset, 0, userData) == 0
    }

    /// Prepares a vectored write; `dataSync` makes it stable on completion (RWF_DSYNC).
    public func prepareWrite(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, dataSync: Bool, userData: UInt64) -> Bool {
        avp_uring_prep_writev(&ring, fd, vectors, UInt32(count), offset, dataSync ? Int32(RWF_DSYNC) : 0, userData) == 0
    }

    public func prepareDataSync(fd: Int32, userData: UInt64) -> Bool {
        avp_uring_prep_fdatasync(&ring, fd, userData) == 0
    }

    /// fallocate(2) with `mode` (FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, ... | FALLOC_FL_KEEP_SIZE).
    public func prepareFallocate(fd: Int32, mode: Int32, offset: UInt64, length: UInt64, userData: UInt64) -> Bool {
        avp_uring_prep_fallocate(&ring, fd, mode, offset, length, userData) == 0
    }

    /// Submissions prepared and not yet handed to the kernel.
    public var pendingSubmissions: UInt32 { ring.pending }

    /// Hands prepared submissions to the kernel; waits for `waitFor` completions.
    public func submit(waitFor: UInt32 = 0) throws(Errno) {
        let rc = avp_uring_submit(&ring, waitFor)
        if rc < 0 { throw Errno(-rc, call: "io_uring_enter") }
    }

    /// The next completion, if one is ready.
    public func nextCompletion() -> Completion? {
        var userData: UInt64 = 0
        var result: Int32 = 0
        guard avp_uring_next_completion(&ring, &userData, &result) == 1 else { return nil }
        return Completion(userData: userData, result: result)
    }
}
