#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// The io_uring a server thread waits on: kick eventfds and the thread's epoll set are
/// polled on it (multishot), call eventfds are written through it, and its device's file
/// I/O (`LoopRingFileIO`) shares it. One `io_uring_enter` then hands over everything the
/// last wake-up prepared (a read, the interrupt for the request before) and waits for the
/// next kick, where an epoll loop needs `epoll_wait`, `io_uring_enter` and `write`.
///
/// Owned by one thread, the first to submit (it enables the ring: SINGLE_ISSUER with
/// DEFER_TASKRUN); `signal(eventFD:)` from any other thread declines, and the caller writes the
/// eventfd itself. Created restricted to the operations below: io_uring runs its operations
/// without system calls, so seccomp cannot filter them, and a sandboxed server may not create
/// another ring.
public final class EventLoopRing: @unchecked Sendable {
    /// User data with this bit set is the loop's (polls, eventfd writes); the device's file
    /// I/O has the rest.
    static let loopBit: UInt64 = 1 << 63
    private static let signalTag: UInt64 = loopBit | 1 << 62
    private static let removalTag: UInt64 = loopBit | 1 << 61
    /// A watch's user data: the tag, a generation (so a stale poll's last completion is told
    /// apart from a new watch with the same token), the token.
    private static let tokenBits = 40
    public static let maximumToken: UInt64 = 1 << UInt64(tokenBits) - 1

    /// What may be submitted: file I/O, polls, writes (eventfds).
    public static let allowedOperations: [UInt8] = IOUring.fileOperations
        + [IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_WRITE].map { UInt8($0.rawValue) }

    let ring: IOUring
    // Owned by one thread: no dynamic exclusivity checks on the hot path.
    /// A handful (the kicks and the epoll set): a list is quicker than hashing.
    @exclusivity(unchecked) private var watches: [(token: UInt64, fd: Int32, userData: UInt64)] = []
    private var generation: UInt64 = 0
    @exclusivity(unchecked) private var woken: [UInt64] = []
    @exclusivity(unchecked) private(set) var deviceCompletions: [IOUring.Completion] = []
    @exclusivity(unchecked) private var nextDeviceCompletion = 0
    /// Eventfds written since the last submission: one write each per batch.
    @exclusivity(unchecked) private var signalled: [Int32] = []
    /// The 8 bytes every eventfd write sends; lives as long as the ring.
    private let one: UnsafeMutablePointer<UInt64>
    private var owner: pthread_t?
    public private(set) var failedSignals = 0

    public init(entries: UInt32) throws(Errno) {
        ring = try IOUring(entries: entries, allowedOperations: Self.allowedOperations, singleIssuer: true)
        one = .allocate(capacity: 1)
        one.initialize(to: 1)
    }

    deinit { one.deallocate() }

    /// The ring's own descriptor.
    public var descriptor: Int32 { ring.pollDescriptor }

    /// Reports `token` (at most `maximumToken`) each time `fd` becomes readable, until `unwatch`.
    public func watch(fd: Int32, token: UInt64) {
        precondition(token <= Self.maximumToken)
        generation = (generation + 1) & 0x1f_ffff
        let userData = Self.loopBit | generation << UInt64(Self.tokenBits) | token
        watches.removeAll { $0.token == token }
        watches.append((token, fd, userData))
        arm(fd: fd, userData: userData)
    }

    public func unwatch(token: UInt64) {
        guard let index = watches.firstIndex(where: { $0.token == token }) else { return }
        let watch = watches.remove(at: index)
        prepare { ring.preparePollRemove(target: watch.userData, userData: Self.removalTag) }
    }

    private func arm(fd: Int32, userData: UInt64) {
        prepare { ring.preparePoll(fd: fd, events: UInt32(POLLIN), multishot: true, userData: userData) }
    }

    /// Queues an eventfd write for the next submission; false (write it yourself) on any
    /// thread but the loop's.
    public func signal(eventFD fd: Int32) -> Bool {
        guard let owner, pthread_equal(owner, pthread_self()) != 0 else { return false }
        if signalled.contains(fd) { return true }
        guard prepare({ ring.prepareWrite(fd: fd, buffer: one, length: 8, userData: Self.signalTag) }) else { return false }
        signalled.append(fd)
        return true
    }

    /// Hands over everything prepared, without waiting: before a descriptor the prepared
    /// operations name may be closed.
    public func flush() throws(Errno) { try submit(minimum: 0, timeoutMilliseconds: -1) }

    /// Submits what is prepared and waits (up to `timeoutMilliseconds`, -1: without limit)
    /// until a watched descriptor is readable or device I/O completed; calls `woke` with each
    /// token woken.
    public func wait(timeoutMilliseconds: Int32, woke: (UInt64) throws(Errno) -> Void) throws(Errno) {
        let ready = !woken.isEmpty || nextDeviceCompletion < deviceCompletions.count || ring.hasCompletions
        try submit(minimum: ready ? 0 : 1, timeoutMilliseconds: ready ? -1 : timeoutMilliseconds)
        take()
        defer { woken.removeAll(keepingCapacity: true) }
        for token in woken { try woke(token) }
    }

    /// Whether device completions are waiting to be taken (`LoopRingFileIO.nextCompletion`).
    public var hasDeviceCompletions: Bool { readyDeviceCompletions > 0 }

    /// Completions wait in the ring, or were taken and not yet handed out.
    public var hasPendingCompletions: Bool { hasDeviceCompletions || !woken.isEmpty || ring.hasCompletions }

    var readyDeviceCompletions: Int { deviceCompletions.count - nextDeviceCompletion }

    // MARK: For LoopRingFileIO

    func submit(minimum: UInt32, timeoutMilliseconds: Int32) throws(Errno) {
        if owner == nil {
            // The first thread to submit is the loop's: its only submitter (SINGLE_ISSUER).
            try ring.enable()
            owner = pthread_self()
        }
        signalled.removeAll(keepingCapacity: true)
        try ring.submitAndWait(minimum: minimum, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Sorts the completion queue: the device's aside for it, the loop's into `woken`.
    func take() {
        while let completion = ring.nextCompletion() {
            let userData = completion.userData
            if userData & Self.loopBit == 0 {
                deviceCompletions.append(completion)
            } else if userData == Self.signalTag {
                if completion.result < 0 { failedSignals += 1 }
            } else if userData != Self.removalTag {
                let token = userData & Self.maximumToken
                guard let watch = watches.first(where: { $0.token == token }), watch.userData == userData else { continue }
                if completion.result > 0 { woken.append(token) }
                // A multishot poll can end (an overflowing completion queue): arm it again,
                // and report it in case the wake-up that ended it was lost.
                if !completion.staysArmed {
                    arm(fd: watch.fd, userData: userData)
                    if completion.result <= 0 { woken.append(token) }
                }
            }
        }
    }

    func nextDeviceCompletionTaken() -> IOUring.Completion? {
        guard nextDeviceCompletion < deviceCompletions.count else {
            if !deviceCompletions.isEmpty {
                deviceCompletions.removeAll(keepingCapacity: true)
                nextDeviceCompletion = 0
            }
            return nil
        }
        defer { nextDeviceCompletion += 1 }
        return deviceCompletions[nextDeviceCompletion]
    }

    /// Prepares one operation, handing over the queue first when it is full; false if even
    /// that failed (the ring is broken: the caller does without it).
    @discardableResult
    func prepare(_ body: () -> Bool) -> Bool {
        while !body() {
            do { try submit(minimum: 0, timeoutMilliseconds: -1) } catch { return false }
        }
        return true
    }
}
