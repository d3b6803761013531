#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SystemCalls
import Virtio

/// Serves one device on one vhost-user socket: a dedicated OS thread runs an epoll
/// loop over the listening socket, the front-end connection, the queues' kick
/// eventfds and a stop eventfd. One front end at a time; when it leaves (or breaks
/// the protocol) the device is reset and the next front end is accepted.
///
/// In `.connect` mode the roles on the socket are reversed — the VMM listens
/// (QEMU `-chardev socket,server=on,wait=on`) and the back end connects, retrying —
/// which lets a restarted back end reattach to a running VM even for device models
/// that cannot wait for a reconnecting client (QEMU's vhost-user-base devices).
public final class VhostUserServer: @unchecked Sendable {
    public enum Endpoint: Sendable, CustomStringConvertible {
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
    private let listener: UnixSocket?
    /// How often a back end in `.connect` mode tries to reach its VMM.
    static let reconnectMilliseconds: Int32 = 100
    private let stopEvent: EventFD
    private let epoll: Epoll
    private var thread: OSThread?

    // Worker-thread state.
    private var channel: VhostUserChannel?
    private var watchedKicks: [Int: Int32] = [:]

    /// Connections accepted so far, and whether one is open now (read from any thread).
    private let stats = Mutex<(connections: Int, connected: Bool)>((0, false))

    private enum Token {
        static let stop: UInt64 = 0
        static let listener: UInt64 = 1
        static let connection: UInt64 = 2
        static let kickBase: UInt64 = 1 << 16
        static let deviceBase: UInt64 = 1 << 32
    }

    /// Seconds a front end may take to send the rest of a message it started.
    public static let messageTimeoutSeconds = 5

    /// Binds `socketPath` now (so a VMM can be started right after) and serves once `start()` runs.
    public convenience init(socketPath: String, device: VirtioDevice, logger: Logger) throws {
        try self.init(endpoint: .listen(socketPath), device: device, logger: logger)
    }

    /// Listens now (`.listen`) or connects once started (`.connect`).
    public init(endpoint: Endpoint, device: VirtioDevice, logger: Logger) throws {
        self.endpoint = endpoint
        self.logger = logger
        backend = VhostUserBackend(device: device, logger: logger)
        if case let .listen(path) = endpoint { listener = try UnixSocket.listen(at: path) } else { listener = nil }
        stopEvent = try EventFD()
        epoll = try Epoll()
        try epoll.add(stopEvent.rawValue, token: Token.stop)
        if let listener { try epoll.add(listener.rawValue, token: Token.listener) }
        syncDeviceEvents()
    }

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

    /// Stops the worker, closes the connection and removes the socket file.
    public func stop() {
        stopEvent.signal()
        thread?.join()
        thread = nil
        if case let .listen(path) = endpoint { unlink(path) }
    }

    private func run() {
        logger.info("serving \(backend.device.deviceType), \(endpoint)")
        while true {
            var timeout: Int32 = -1
            if case let .connect(path) = endpoint, channel == nil {
                connect(to: path)
                if channel == nil { timeout = Self.reconnectMilliseconds }
            }
            let events: [Epoll.Event]
            do { events = try epoll.wait(timeoutMilliseconds: timeout) } catch {
                logger.critical("epoll_wait failed: \(error)")
                return
            }
            for event in events {
                switch event.token {
                case Token.stop:
                    closeConnection(reason: "server stopping")
                    return
                case Token.listener:
                    accept()
                case Token.connection:
                    receive(event.events)
                case Token.deviceBase...:
                    backend.device.handleEvent(descriptor: Int32(bitPattern: UInt32(truncatingIfNeeded: event.token - Token.deviceBase)))
                default:
                    let queue = Int(event.token - Token.kickBase)
                    backend.kick(queue: queue)
                }
            }
            syncDeviceEvents()
        }
    }

    private func accept() {
        guard channel == nil, let listener else { return }
        do {
            let socket = try listener.accept()
            // One front end at a time: stop accepting until this one leaves.
            epoll.remove(listener.rawValue)
            try attach(socket)
        } catch {
            logger.error("accept failed: \(error)")
        }
    }

    /// `.connect` mode: one attempt to reach the VMM (quietly; it may not be up yet).
    private func connect(to path: String) {
        guard let socket = try? UnixSocket.connect(to: path) else { return }
        do { try attach(socket) } catch {
            logger.error("cannot use the connection to \(path): \(error)")
        }
    }

    private func attach(_ socket: UnixSocket) throws {
        let newChannel = VhostUserChannel(socket: socket)
        newChannel.setReceiveTimeout(seconds: Self.messageTimeoutSeconds)
        try epoll.add(socket.rawValue, events: [.readable, .peerClosed], token: Token.connection)
        channel = newChannel
        let n = stats.withLock { s in s.connections += 1; s.connected = true; return s.connections }
        logger.info("front end connected (connection \(n))")
    }

    private func receive(_ events: Epoll.Events) {
        guard let channel else { return }
        do {
            guard let message = try channel.receive() else {
                closeConnection(reason: "front end disconnected")
                return
            }
            logger.trace("\(message.request.map { "\($0)" } ?? "\(message.header.request)") \(message.payload.count) bytes, \(message.descriptors.count) fds")
            if let reply = try backend.handle(message) {
                try channel.send(reply)
            }
            syncKicks()
        } catch {
            closeConnection(reason: "protocol error: \(error)")
        }
    }

    /// Makes the epoll set match the rings that are started and enabled.
    private func syncKicks() {
        let wanted = Dictionary(uniqueKeysWithValues: backend.activeKicks.map { ($0.queue, $0.fd) })
        for (queue, fd) in watchedKicks where wanted[queue] != fd {
            epoll.remove(fd)
            watchedKicks[queue] = nil
        }
        for (queue, fd) in wanted where watchedKicks[queue] == nil {
            do {
                try epoll.add(fd, token: Token.kickBase + UInt64(queue))
                watchedKicks[queue] = fd
            } catch {
                logger.error("queue \(queue): cannot watch kick descriptor: \(error)")
            }
        }
    }

    private func closeConnection(reason: String) {
        guard let channel else { return }
        logger.info("\(reason); resetting device and waiting for the next front end")
        epoll.remove(channel.socket.rawValue)
        for (_, fd) in watchedKicks { epoll.remove(fd) }
        watchedKicks = [:]
        self.channel = nil
        backend.disconnect()
        stats.withLock { $0.connected = false }
        if let listener {
            do { try epoll.add(listener.rawValue, token: Token.listener) } catch {
                logger.critical("cannot listen again: \(error)")
            }
        }
    }
}
