#if canImport(Glibc)
import Glibc
#endif
import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// Serves one device on one vhost-user socket: a dedicated OS thread waits on an io_uring
/// (`LoopWaiter`; epoll where io_uring is unavailable) for the queues' kick eventfds, the
/// device's file I/O, and an epoll set of the listening socket, the connections and a
/// stop eventfd. Nothing a peer does can make the thread wait for it: every socket and
/// every descriptor received is non-blocking, messages are assembled piece by piece,
/// and timers (not blocking reads) end a peer that stalls.
///
/// One front end at a time (vhost-user is one-to-one): the first connection to send a
/// message while the device is free gets it. Other connections wait — a bounded number,
/// for a bounded time — and a connection that never speaks is dropped, so it cannot
/// hold the socket. When the front end leaves (or breaks the protocol) the device is
/// reset and a waiting connection that has spoken takes over.
///
/// In `.connect` mode the roles on the socket are reversed — the VMM listens
/// (QEMU `-chardev socket,server=on,wait=on`) and the back end connects, retrying —
/// which lets a restarted back end reattach to a running VM even for device models
/// that cannot wait for a reconnecting client (QEMU's vhost-user-base devices).
public final class VhostUserServer: @unchecked Sendable {
    public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
        /// Listen on the path; the VMM connects.
        case listen(String)
        /// Connect to the VMM's listening socket, and again whenever it goes away.
        case connect(String)

        public var path: String {
            switch self { case let .listen(p), let .connect(p): return p }
        }
        public var description: String {
            switch self { case let .listen(p): return "listening on \(p)"; case let .connect(p): return "connecting to \(p)" }
        }
    }

    public let endpoint: Endpoint
    public var socketPath: String { endpoint.path }
    private let backend: VhostUserBackend
    private let logger: Logger
    private let listener: UnixListener?
    /// How often a back end in `.connect` mode tries to reach its VMM.
    static let reconnectMilliseconds: Int32 = 100
    /// How often timers (stalled messages, waiting connections) are checked while any runs.
    static let housekeepingMilliseconds: Int32 = 250
    private let stopEvent: EventFD
    private let epoll: Epoll
    private let waiter: LoopWaiter
    private let polling: AvailablePolling
    private var thread: OSThread?

    // Worker-thread state.
    private var frontEnd: FrontendConnection?
    private var waiting: [Int32: FrontendConnection] = [:]
    private var watchedKicks: [Int: Int32] = [:]
    private var lastFaultGeneration = MappedRegion.faultGeneration
    private var evictedConnections = LogSampler()
    /// When the device last became free: a waiting connection's silence counts from then.
    private var freeSince = MonotonicClock.seconds()

    /// Front ends served so far, and whether one is connected now (read from any thread).
    private let stats = Mutex<(connections: Int, connected: Bool)>((0, false))

    private enum Token {
        static let stop: UInt64 = 0
        static let listener: UInt64 = 1
        /// The epoll set itself, on the loop's ring (`LoopWaiter`).
        static let epollSet: UInt64 = 2
        /// The device's file I/O on the loop's ring completed.
        static let deviceCompletions: UInt64 = 3
        static let kickBase: UInt64 = 1 << 16
        static let deviceBase: UInt64 = 1 << 32
        static let connectionBase: UInt64 = 1 << 48
    }

    /// Seconds a front end may take to send the rest of a message it started.
    public static let messageTimeoutSeconds = 5.0
    /// Seconds a connection may stay silent while the device is free before it is dropped.
    public static let silentConnectionSeconds = 5.0
    /// Seconds a connection may wait while another front end holds the device.
    public static let busyWaitSeconds = 10.0
    /// Connections that may wait at once; a new one beyond that replaces the oldest.
    public static let maxWaitingConnections = 8

    /// Binds `socketPath` now (so a VMM can be started right after) and serves once `start()` runs.
    public convenience init(socketPath: String, device: VirtioDevice, logger: Logger, eventLoop: ServerEventLoop? = nil,
                            pollMicroseconds: Int? = nil) throws {
        try self.init(endpoint: .listen(socketPath), device: device, logger: logger, eventLoop: eventLoop,
                      pollMicroseconds: pollMicroseconds)
    }

    /// Listens now (`.listen`; refused if a live server already answers on the path) or
    /// connects once started (`.connect`). Waits on io_uring unless `eventLoop` (or the
    /// environment's `AVP_EVENT_LOOP`) says `epoll`, or io_uring is unavailable; polls its queues
    /// for `pollMicroseconds` (or `AVP_POLL_MICROSECONDS`) after each request (`AvailablePolling`).
    public init(endpoint: Endpoint, device: VirtioDevice, logger: Logger, eventLoop: ServerEventLoop? = nil,
                pollMicroseconds: Int? = nil) throws {
        self.endpoint = endpoint
        self.logger = logger
        polling = AvailablePolling(microseconds: pollMicroseconds)
        backend = VhostUserBackend(device: device, logger: logger)
        if case let .listen(path) = endpoint { listener = try UnixListener(path: path) } else { listener = nil }
        stopEvent = try EventFD()
        epoll = try Epoll()
        try epoll.add(stopEvent.rawValue, token: Token.stop)
        if let listener { try epoll.add(listener.rawValue, token: Token.listener) }
        waiter = LoopWaiter(eventLoop, epoll: epoll, device: device, epollSetToken: Token.epollSet,
                            deviceCompletionsToken: Token.deviceCompletions, logger: logger)
        if let ring = waiter.ring { backend.writeCalls(through: ring) }
        syncDeviceEvents()
    }

    /// How the server thread waits.
    public var eventLoop: ServerEventLoop { waiter.mode }

    private var watchedDeviceDescriptors: [Int32] = []
    private var watchedGeneration = Int.min

    /// Makes the epoll set match the device's own descriptors (checked after every event).
    private func syncDeviceEvents() {
        let device = backend.device
        guard device.eventGeneration != watchedGeneration else { return }
        for fd in watchedDeviceDescriptors { epoll.remove(fd) }
        watchedDeviceDescriptors = device.eventDescriptors
        watchedGeneration = device.eventGeneration
        for fd in watchedDeviceDescriptors {
            do { try epoll.add(fd, token: Token.deviceBase + UInt64(UInt32(bitPattern: fd))) } catch {
                logger.error("cannot watch device descriptor \(fd): \(error)")
            }
        }
    }

    public var connectionCount: Int { stats.withLock { $0.connections } }
    public var isConnected: Bool { stats.withLock { $0.connected } }

    /// Starts the worker thread.
    public func start() throws {
        let name = "avp-" + String(describing: backend.device.deviceType)
        thread = try OSThread(name: name) { [self] in run() }
    }

    /// Asks the worker to stop without waiting for it (see `stop`).
    public func requestStop() { stopEvent.signal() }

    /// Stops the worker, closes every connection and removes the socket file (if it is still ours).
    public func stop() {
        requestStop()
        thread?.join()
        thread = nil
        listener?.removeFile()
    }

    /// Stops several servers at once: all are asked first, then joined, so the stop takes as
    /// long as the slowest one rather than their sum.
    public static func stopAll(_ servers: [VhostUserServer]) {
        for server in servers { server.requestStop() }
        for server in servers { server.stop() }
    }

    // MARK: The loop

    private func run() {
        logger.info("serving \(backend.device.deviceType), \(endpoint), waiting with \(waiter.mode.rawValue)")
        while true {
            var timeout: Int32 = -1
            if case let .connect(path) = endpoint, frontEnd == nil {
                connect(to: path)
                if frontEnd == nil { timeout = Self.reconnectMilliseconds }
            }
            if !waiting.isEmpty || frontEnd?.reader.isPartial == true {
                timeout = timeout < 0 ? Self.housekeepingMilliseconds : min(timeout, Self.housekeepingMilliseconds)
            }
            let events: [Epoll.Event]
            do { events = try waiter.wait(timeoutMilliseconds: timeout) } catch {
                logger.critical("waiting for events failed: \(error)")
                return
            }
            var servedRequests = false
            for event in events {
                switch event.token {
                case Token.stop:
                    closeAll()
                    return
                case Token.listener:
                    acceptPending()
                case Token.deviceCompletions:
                    (backend.device as? LoopRingDevice)?.loopRingCompletionsReady()
                    servedRequests = true
                case Token.connectionBase...:
                    let fd = Int32(truncatingIfNeeded: event.token - Token.connectionBase)
                    if let frontEnd, frontEnd.rawValue == fd {
                        serveFrontEnd(frontEnd)
                    } else if let connection = waiting[fd] {
                        serveWaiting(connection, event.events)
                    }
                case Token.deviceBase...:
                    backend.device.handleEvent(descriptor: Int32(bitPattern: UInt32(truncatingIfNeeded: event.token - Token.deviceBase)))
                default:
                    backend.kick(queue: Int(event.token - Token.kickBase))
                    servedRequests = true
                }
                checkMemory()
            }
            if servedRequests, polling.isOn, frontEnd != nil {
                polling.run(backend) { waiter.hasWork }
                checkMemory()
            }
            expireTimers(now: MonotonicClock.seconds())
            syncDeviceEvents()
        }
    }

    // MARK: Connections

    private func acceptPending() {
        guard let listener else { return }
        while true {
            let socket: UnixSocket
            do {
                guard let accepted = try listener.accept() else { return }
                socket = accepted
            } catch {
                logger.error("accept failed: \(error)")
                return
            }
            if waiting.count >= Self.maxWaitingConnections, let oldest = waiting.values.min(by: { $0.openedAt < $1.openedAt }) {
                // The newest is the likeliest to be a VMM about to speak; the oldest has had its chance.
                drop(oldest, reason: nil)
                if evictedConnections.record() {
                    logger.warning("\(Self.maxWaitingConnections) connections wait for the device; closed the oldest (\(evictedConnections.count) so far)")
                }
            }
            do {
                try socket.descriptor.setNonBlocking()
                let connection = FrontendConnection(socket: socket, openedAt: MonotonicClock.seconds())
                try epoll.add(connection.rawValue, events: waitingEvents, token: token(connection))
                waiting[connection.rawValue] = connection
            } catch {
                logger.error("cannot watch a new connection: \(error)")
            }
        }
    }

    /// While the device is held, a waiting connection is watched only for hang-up: reading it
    /// would take messages meant for a device it does not have yet.
    private var waitingEvents: Epoll.Events { frontEnd == nil ? [.readable, .peerClosed] : [.peerClosed] }

    /// Re-registers waiting connections after the device was taken (hang-up only: not read until it
    /// is free) or freed (readable: one that has already spoken takes over next).
    private func watchWaiting() {
        for other in waiting.values { try? epoll.modify(other.rawValue, events: waitingEvents, token: token(other)) }
        waiter.epollSetModified()
    }

    private func token(_ connection: FrontendConnection) -> UInt64 {
        Token.connectionBase + UInt64(UInt32(bitPattern: connection.rawValue))
    }

    private func serveWaiting(_ connection: FrontendConnection, _ events: Epoll.Events) {
        if frontEnd == nil, events.contains(.readable), connection.socket.hasPendingData {
            // It spoke first: it is the front end now.
            waiting[connection.rawValue] = nil
            attach(connection)
            serveFrontEnd(connection)
        } else if !events.isDisjoint(with: [.peerClosed, .hangup, .error]) {
            drop(connection, reason: nil)
        }
    }

    /// `.connect` mode: one attempt to reach the VMM (quietly; it may not be up yet).
    private func connect(to path: String) {
        guard let socket = try? UnixSocket.connect(to: path, nonBlocking: true) else { return }
        do {
            try socket.descriptor.setNonBlocking()
            let connection = FrontendConnection(socket: socket, openedAt: MonotonicClock.seconds())
            try epoll.add(connection.rawValue, events: [.readable, .peerClosed], token: token(connection))
            attach(connection)
        } catch {
            logger.error("cannot use the connection to \(path): \(error)")
        }
    }

    private func attach(_ connection: FrontendConnection) {
        frontEnd = connection
        watchWaiting()
        let n = stats.withLock { s in s.connections += 1; s.connected = true; return s.connections }
        logger.info("front end connected (connection \(n))")
    }

    /// Handles what the front end sent: whole messages as they complete, at most a batch per
    /// wake-up so kicks of other queues are not starved by a chatty front end.
    private func serveFrontEnd(_ connection: FrontendConnection) {
        for _ in 0..<64 {
            do {
                switch try connection.reader.next(from: connection.socket) {
                case .wouldBlock:
                    return
                case .closed:
                    closeFrontEnd(reason: "front end disconnected")
                    return
                case let .message(message):
                    logger.trace("\(message.request.map { "\($0)" } ?? "\(message.header.request)") \(message.payload.count) bytes, \(message.descriptors.count) fds")
                    if let reply = try backend.handle(message) {
                        try send(reply, on: connection)
                    }
                    syncKicks()
                    if checkMemory() { return }
                }
            } catch {
                closeFrontEnd(reason: "protocol error: \(error)")
                return
            }
        }
    }

    /// Replies are small and the front end waits for them; one that does not fit in the socket
    /// buffer means the front end stopped reading, which ends the connection rather than the thread.
    private func send(_ reply: VhostUserMessage, on connection: FrontendConnection) throws(VhostUserError) {
        do { try connection.socket.send(reply.wireBytes, descriptors: reply.descriptors.map(\.rawValue)) } catch {
            throw .connectionFailed(error.code == EAGAIN ? "the front end does not read its replies" : error.description)
        }
    }

    /// Ends connections whose time is up: a front end stalled mid-message, a waiting
    /// connection that never spoke, or one that waited too long behind the current front end.
    private func expireTimers(now: Double) {
        if let frontEnd, let since = frontEnd.reader.partialSince, now - since > Self.messageTimeoutSeconds {
            closeFrontEnd(reason: "protocol error: \(VhostUserError.stalled) for \(Int(Self.messageTimeoutSeconds)) s")
        }
        for connection in Array(waiting.values) {
            let age = now - connection.openedAt
            if frontEnd == nil, now - max(connection.openedAt, freeSince) > Self.silentConnectionSeconds {
                drop(connection, reason: "a connection sent nothing for \(Int(Self.silentConnectionSeconds)) s")
            } else if frontEnd != nil, age > Self.busyWaitSeconds {
                drop(connection, reason: "a second front end waited \(Int(Self.busyWaitSeconds)) s while another holds the device")
            }
        }
    }

    private func drop(_ connection: FrontendConnection, reason: String?) {
        epoll.remove(connection.rawValue)
        waiting[connection.rawValue] = nil
        if let reason { logger.notice("\(reason); closing it") }
    }

    /// Ends the front end if the memory it shared faulted (it shrank the file behind it).
    @discardableResult
    private func checkMemory() -> Bool {
        let generation = MappedRegion.faultGeneration
        guard generation != lastFaultGeneration else { return false }
        lastFaultGeneration = generation
        guard let why = backend.checkMemoryFault() else { return false }
        closeFrontEnd(reason: "\(why); device needs reset")
        return true
    }

    /// Makes the epoll set match the rings that are started and enabled.
    private func syncKicks() {
        let wanted = Dictionary(uniqueKeysWithValues: backend.activeKicks.map { ($0.queue, $0.fd) })
        for (queue, fd) in watchedKicks where wanted[queue] != fd {
            waiter.unwatchKick(fd: fd, token: Token.kickBase + UInt64(queue))
            watchedKicks[queue] = nil
        }
        for (queue, fd) in wanted where watchedKicks[queue] == nil {
            do {
                // Edge-triggered: the backend never reads the kick (VhostUserBackend.kick).
                try waiter.watchKick(fd: fd, token: Token.kickBase + UInt64(queue))
                watchedKicks[queue] = fd
            } catch {
                logger.error("queue \(queue): cannot watch kick descriptor: \(error)")
            }
        }
    }

    private func closeFrontEnd(reason: String) {
        guard let connection = frontEnd else { return }
        logger.info("\(reason); resetting device and waiting for the next front end")
        epoll.remove(connection.rawValue)
        for (queue, fd) in watchedKicks { waiter.unwatchKick(fd: fd, token: Token.kickBase + UInt64(queue)) }
        watchedKicks = [:]
        frontEnd = nil
        backend.disconnect()
        stats.withLock { $0.connected = false }
        freeSince = MonotonicClock.seconds()
        watchWaiting()
    }

    private func closeAll() {
        closeFrontEnd(reason: "server stopping")
        for connection in Array(waiting.values) { drop(connection, reason: nil) }
    }
}
