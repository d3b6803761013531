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
        /// A multishot request (a poll) stays armed after this completion (IORING_CQE_F_MORE).
        public let staysArmed: Bool

        public init(userData: UInt64, result: Int32, staysArmed: Bool = false) {
            self.userData = userData
            self.result = result
            self.staysArmed = staysArmed
        }
    }

    /// Behind a pointer: a stored `var` would cost a dynamic exclusivity check on every call.
    private let ring: UnsafeMutablePointer<avp_uring>
    public let entries: UInt32

    /// A ring with room for `entries` submissions in flight; with `allowedOperations`
    /// (IORING_OP_* codes), nothing else can ever be submitted on it. A `singleIssuer` ring
    /// (with `allowedOperations`) is used by one thread, which calls `enable()` first.
    public init(entries: UInt32, allowedOperations: [UInt8] = [], singleIssuer: Bool = false) throws(Errno) {
        let fresh = UnsafeMutablePointer<avp_uring>.allocate(capacity: 1)
        fresh.initialize(to: avp_uring())
        let rc = allowedOperations.withUnsafeBufferPointer { ops in
            avp_uring_init_restricted(fresh, entries, ops.baseAddress, UInt32(ops.count), singleIssuer ? 1 : 0)
        }
        guard rc == 0 else {
            fresh.deallocate()
            throw Errno(-rc, call: "io_uring_setup")
        }
        ring = fresh
        self.entries = fresh.pointee.sq_entries
    }

    deinit {
        avp_uring_exit(ring)
        ring.deallocate()
    }

    /// The ring's descriptor: readable while completions are waiting.
    public var pollDescriptor: Int32 { ring.pointee.fd }

    /// What a ring for file I/O alone needs: vectored reads and writes, fsync, fallocate.
    public static let fileOperations: [UInt8] = [IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_FALLOCATE]
        .map { UInt8($0.rawValue) }

    /// Whether io_uring works here (kernels can disable it, sandboxes can filter it).
    public static var isAvailable: Bool { (try? IOUring(entries: 2)) != nil }

    /// Prepares a vectored read; false when the submission queue is full (submit, then retry).
    public func prepareRead(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, userData: UInt64) -> Bool {
        avp_uring_prep_readv(ring, fd, vectors, UInt32(count), offset, 0, userData) == 0
    }

    /// Prepares a vectored write; `dataSync` makes it stable on completion (RWF_DSYNC).
    public func prepareWrite(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, dataSync: Bool, userData: UInt64) -> Bool {
        avp_uring_prep_writev(ring, fd, vectors, UInt32(count), offset, dataSync ? Int32(RWF_DSYNC) : 0, userData) == 0
    }

    public func prepareDataSync(fd: Int32, userData: UInt64) -> Bool {
        avp_uring_prep_fdatasync(ring, fd, userData) == 0
    }

    /// fallocate(2) with `mode` (FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, ... | FALLOC_FL_KEEP_SIZE).
    public func prepareFallocate(fd: Int32, mode: Int32, offset: UInt64, length: UInt64, userData: UInt64) -> Bool {
        avp_uring_prep_fallocate(ring, fd, mode, offset, length, userData) == 0
    }

    /// Submissions prepared and not yet handed to the kernel.
    public var pendingSubmissions: UInt32 { ring.pointee.pending }

    /// Hands prepared submissions to the kernel; waits for `waitFor` completions.
    public func submit(waitFor: UInt32 = 0) throws(Errno) {
        let rc = avp_uring_submit(ring, waitFor)
        if rc < 0 { throw Errno(-rc, call: "io_uring_enter") }
    }

    /// The next completion, if one is ready.
    public func nextCompletion() -> Completion? {
        var userData: UInt64 = 0
        var result: Int32 = 0
        var flags: UInt32 = 0
        guard avp_uring_next_cqe(ring, &userData, &result, &flags) == 1 else { return nil }
        return Completion(userData: userData, result: result, staysArmed: flags & UInt32(IORING_CQE_F_MORE) != 0)
    }

    /// Enables a `singleIssuer` ring: the calling thread becomes its only submitter.
    public func enable() throws(Errno) {
        let rc = avp_uring_enable(ring)
        if rc < 0 { throw Errno(-rc, call: "io_uring_register") }
    }

    /// Whether completions are waiting to be taken.
    public var hasCompletions: Bool { avp_uring_ready(ring) == 1 }

    /// Polls `fd` for `events` (POLLIN, ...); `multishot`: one completion per wake-up (edge
    /// triggered) until removed, each with `staysArmed`, else one completion.
    public func preparePoll(fd: Int32, events: UInt32, multishot: Bool, userData: UInt64) -> Bool {
        avp_uring_prep_poll(ring, fd, events, multishot ? 1 : 0, userData) == 0
    }

    /// Removes the poll whose user data is `target`.
    public func preparePollRemove(target: UInt64, userData: UInt64) -> Bool {
        avp_uring_prep_poll_remove(ring, target, userData) == 0
    }

    /// write(2) of `length` bytes at `buffer`, which must stay valid until the write completes.
    public func prepareWrite(fd: Int32, buffer: UnsafeRawPointer, length: Int, userData: UInt64) -> Bool {
        avp_uring_prep_write(ring, fd, buffer, UInt32(length), userData) == 0
    }

    /// Submits what is prepared and waits for `minimum` completions, at most
    /// `timeoutMilliseconds` (-1: without limit); one system call either way.
    public func submitAndWait(minimum: UInt32, timeoutMilliseconds: Int32) throws(Errno) {
        let rc = avp_uring_wait(ring, minimum, timeoutMilliseconds)
        if rc < 0 { throw Errno(-rc, call: "io_uring_enter") }
    }
}
