import Logging
import Synchronization
import SystemCalls
import Virtio

/// A Unix socket the host writes touches to, one `TouchLine` per line (`touch 100 50`,
/// `move 120 60`, `release`): the `TouchSource` of `avp serve input`. Its own thread serves up to
/// `maxConnections` clients at once (a further one replaces the oldest); nothing is sent back.
/// Invalid lines are ignored with a rate-limited log line. A client that goes away releases
/// the contacts it left touching, so a crashed client cannot leave a finger on the screen.
public final class TouchEventsSocket: TouchSource, @unchecked Sendable {
    public static let maxConnections = 8
    /// Reads per client per wake-up, so one busy client cannot starve the others.
    static let readsPerWake = 16

    public let path: String
    private let listener: UnixListener
    private let epoll: Epoll
    private let stopEvent: EventFD
    private let logger: Logger
    private let thread = Mutex<OSThread?>(nil)

    private enum Token {
        static let stop: UInt64 = 0
        static let listener: UInt64 = 1
        static let connectionBase: UInt64 = 1 << 32
    }

    private final class Client {
        let stream: NonBlockingStream
        let number: Int
        var lines = TouchLineBuffer()
        var touching: Set<Int> = []
        init(stream: NonBlockingStream, number: Int) {
            self.stream = stream
            self.number = number
        }
    }

    // The socket thread's state.
    private var clients: [Int32: Client] = [:]
    private var accepted = 0
    private var ignored = LogSampler()
    private let ignoredCount = Atomic<Int>(0)

    /// Binds `path` now, so the socket exists once this returns; serves once started.
    public init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        listener = try UnixListener(path: path, backlog: 8)
        epoll = try Epoll()
        stopEvent = try EventFD()
        try epoll.add(stopEvent.rawValue, token: Token.stop)
        try epoll.add(listener.rawValue, token: Token.listener)
    }

    public func start(delivering deliver: @escaping @Sendable (TouchAction) -> Void) throws {
        let started = try OSThread(name: "avp-touch") { [self] in run(deliver) }
        thread.withLock { $0 = started }
    }

    public func stop() {
        stopEvent.signal()
        thread.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }?.join()
        listener.removeFile()
    }

    /// Lines ignored so far (read by tests once the thread has handled them).
    public var ignoredLines: Int { ignoredCount.load(ordering: .relaxed) }

    // MARK: The thread

    private func run(_ deliver: @Sendable (TouchAction) -> Void) {
        logger.info("touch events: listening on \(path)")
        while true {
            let events: [Epoll.Event]
            do { events = try epoll.wait(timeoutMilliseconds: -1) } catch {
                logger.critical("touch events: epoll_wait failed: \(error)")
                return
            }
            for event in events {
                switch event.token {
                case Token.stop:
                    for fd in Array(clients.keys) { close(fd, deliver) }
                    return
                case Token.listener:
                    acceptAll(deliver)
                default:
                    read(Int32(truncatingIfNeeded: event.token - Token.connectionBase), deliver)
                }
            }
        }
    }

    private func acceptAll(_ deliver: @Sendable (TouchAction) -> Void) {
        while let socket = (try? listener.accept()) ?? nil {
            guard let stream = try? NonBlockingStream(adopting: socket) else { continue }
            if clients.count >= Self.maxConnections, let oldest = clients.min(by: { $0.value.number < $1.value.number }) {
                logger.warning("touch events: more than \(Self.maxConnections) clients; the oldest is dropped")
                close(oldest.key, deliver)
            }
            accepted += 1
            do {
                try epoll.add(stream.rawValue, events: [.readable, .peerClosed], token: Token.connectionBase + UInt64(UInt32(bitPattern: stream.rawValue)))
            } catch {
                logger.error("touch events: cannot watch a client: \(error)")
                continue
            }
            clients[stream.rawValue] = Client(stream: stream, number: accepted)
            logger.info("touch events: client \(accepted) connected")
        }
    }

    private func read(_ fd: Int32, _ deliver: @Sendable (TouchAction) -> Void) {
        guard let client = clients[fd] else { return }
        for _ in 0..<Self.readsPerWake {
            switch try? client.stream.receive(upTo: 4096) {
            case .wouldBlock?:
                return
            case let .received(bytes)?:
                for piece in client.lines.feed(bytes) { handle(piece, from: client, deliver) }
            case .endOfStream?, nil:
                close(fd, deliver)
                return
            }
        }
    }

    private func handle(_ piece: TouchLineBuffer.Piece, from client: Client, _ deliver: @Sendable (TouchAction) -> Void) {
        do {
            guard case let .line(line) = piece else { throw TouchLineError.tooLong }
            guard let action = try TouchLine.parse(line) else { return }
            switch action {
            case .touch: client.touching.insert(action.contact)
            case .release: client.touching.remove(action.contact)
            case .move: break
            }
            deliver(action)
        } catch {
            ignoredCount.add(1, ordering: .relaxed)
            if ignored.record() {
                logger.warning("touch events: client \(client.number): line ignored (\(ignored.count) so far): \(error)")
            }
        }
    }

    /// Forgets a client, releasing what it left touching.
    private func close(_ fd: Int32, _ deliver: @Sendable (TouchAction) -> Void) {
        guard let client = clients.removeValue(forKey: fd) else { return }
        epoll.remove(fd)
        client.stream.shutdown()
        for contact in client.touching.sorted() { deliver(.release(contact: contact)) }
        let released = client.touching.isEmpty ? "" : "; released \(client.touching.count) contacts"
        logger.info("touch events: client \(client.number) left\(released)")
    }
}
