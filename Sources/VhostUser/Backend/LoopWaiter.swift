#if canImport(Glibc)
import Glibc
#endif
import Logging
import SystemCalls
import Virtio

/// How a server thread waits (`LoopWaiter`).
public enum ServerEventLoop: String, Sendable, CaseIterable {
    case ioUring = "io_uring"
    case epoll
}

/// How a `VhostUserServer` thread waits for work, and where the kicks it watches go.
///
/// - `ring`: on an `EventLoopRing`. Kicks are polled on the ring, the epoll set (connections,
///   the device's own descriptors, stop) is polled there as one descriptor, call eventfds are
///   written through it and the device's file I/O shares it. A request at queue depth 1 then
///   costs two system calls: the `io_uring_enter` that submits its read, and the one that
///   submits the interrupt and waits for the next kick.
/// - `epoll`: `epoll_wait` alone, where io_uring is unavailable or `AVP_EVENT_LOOP=epoll`
///   asks for it (benchmarks compare the two).
final class LoopWaiter {
    let epoll: Epoll
    let ring: EventLoopRing?
    /// The epoll set's token on the ring (the server's own tokens never use it).
    private let epollSetToken: UInt64
    /// Reported when the device's file I/O on the ring completed.
    private let deviceCompletionsToken: UInt64

    /// Set by `epollSetModified`: the next wait looks at the epoll set without being woken.
    private var checkEpollSet = false

    var mode: ServerEventLoop { ring == nil ? .epoll : .ioUring }

    /// epoll_ctl(MOD) that makes a registration ready wakes nobody when the item is still on
    /// the set's ready list (left there level-triggered, or by an earlier mask): the ring's poll
    /// of the set would miss it. The next `wait` then reads the set once regardless.
    func epollSetModified() { checkEpollSet = true }

    /// Sets up the ring (unless `wanted` or `AVP_EVENT_LOOP` is `epoll`) and gives `device` its file I/O on it.
    init(_ wanted: ServerEventLoop?, epoll: Epoll, device: VirtioDevice, epollSetToken: UInt64, deviceCompletionsToken: UInt64,
         logger: Logger) {
        self.epoll = epoll
        self.epollSetToken = epollSetToken
        self.deviceCompletionsToken = deviceCompletionsToken
        let fromEnvironment = getenv("AVP_EVENT_LOOP").flatMap { ServerEventLoop(rawValue: String(cString: $0)) }
        ring = (wanted ?? fromEnvironment ?? .ioUring) == .epoll ? nil : Self.makeRing(device: device, logger: logger)
        guard let ring else { return }
        ring.watch(fd: epoll.rawValue, token: epollSetToken)
        (device as? LoopRingDevice)?.adoptLoopRing(LoopRingFileIO(ring))
    }

    private static func makeRing(device: VirtioDevice, logger: Logger) -> EventLoopRing? {
        // Kicks, the epoll set, one interrupt per queue and what the device keeps in flight.
        let entries = max(64, (device as? LoopRingDevice)?.loopRingEntries ?? 0)
        do { return try EventLoopRing(entries: entries) } catch {
            logger.notice("io_uring unavailable (\(error)); waiting with epoll")
            return nil
        }
    }

    /// The next events, at most `timeoutMilliseconds` from now (-1: no limit).
    func wait(timeoutMilliseconds: Int32) throws(Errno) -> [Epoll.Event] {
        guard let ring else { return try epoll.wait(timeoutMilliseconds: timeoutMilliseconds) }
        var events: [Epoll.Event] = []
        var readEpollSet = checkEpollSet
        checkEpollSet = false
        try ring.wait(timeoutMilliseconds: readEpollSet ? 0 : timeoutMilliseconds) { token throws(Errno) in
            if token == epollSetToken { readEpollSet = true } else { events.append(Epoll.Event(token: token, events: .readable)) }
        }
        if readEpollSet {
            // The ring's poll of the set is edge-triggered: take everything now.
            var batch: [Epoll.Event]
            repeat {
                batch = try epoll.wait(timeoutMilliseconds: 0)
                events += batch
            } while batch.count == Epoll.maxEvents
            // Registrations are level-triggered: one its handler leaves readable (a budget per
            // wake-up) must come back without a new wake-up, so the set is read again next time.
            checkEpollSet = !events.isEmpty
        }
        if ring.hasDeviceCompletions { events.append(Epoll.Event(token: deviceCompletionsToken, events: .readable)) }
        return events
    }

    /// Whether the ring holds completions (polling stops for them); with epoll, never known.
    var hasWork: Bool { ring?.hasPendingCompletions ?? false }

    /// Reports `token` whenever the kick eventfd `fd` is written (edge-triggered: the kick is never read).
    /// On the ring the poll is submitted at once: the descriptor's number means this eventfd only
    /// until the front end's next message may close it.
    func watchKick(fd: Int32, token: UInt64) throws(Errno) {
        guard let ring else { return try epoll.add(fd, events: [.readable, .edgeTriggered], token: token) }
        ring.watch(fd: fd, token: token)
        try ring.flush()
    }

    func unwatchKick(fd: Int32, token: UInt64) {
        guard let ring else { return epoll.remove(fd) }
        ring.unwatch(token: token)
        try? ring.flush()
    }
}
