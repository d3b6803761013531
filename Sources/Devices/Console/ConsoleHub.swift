#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SystemCalls

/// The host side of one VM's text console (AVPS-v2.0-47): the byte stream of the
/// guest's virtio console port 0 (hvc0) arrives on `guestSocket` — QEMU's
/// virtconsole chardev connects there — and is appended to a log file and copied
/// to every client attached on `attachSocket` (`avp console`); what clients type
/// goes back to the guest. One dedicated thread, epoll, no buffering without bound:
/// a client that does not keep up loses output rather than stalling the guest.
public final class ConsoleHub: @unchecked Sendable {
    /// Recent output replayed to a client when it attaches, so it sees the prompt.
    static let replayBytes = 8192

    private let guestListener: UnixListener
    private let attachListener: UnixListener
    private let log: FileDescriptor
    private let logger: Logger
    private let epoll: Epoll
    private let stopEvent: EventFD
    private var thread: OSThread?
    private var guest: UnixSocket?
    private var clients: [Int32: UnixSocket] = [:]
    private var recent: [UInt8] = []
    private let counters = Mutex<(fromGuest: Int, toGuest: Int)>((0, 0))

    private enum Token {
        static let stop: UInt64 = 0
        static let guestListener: UInt64 = 1
        static let attachListener: UInt64 = 2
        static let guest: UInt64 = 3
        static let clientBase: UInt64 = 1 << 32
    }

    public init(guestSocket: String, attachSocket: String, logPath: String, logger: Logger) throws {
        guestListener = try UnixListener(path: guestSocket)
        attachListener = try UnixListener(path: attachSocket)
        log = try FileDescriptor.open(logPath, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
        self.logger = logger
        epoll = try Epoll()
        stopEvent = try EventFD()
        try epoll.add(stopEvent.rawValue, token: Token.stop)
        try epoll.add(guestListener.rawValue, token: Token.guestListener)
        try epoll.add(attachListener.rawValue, token: Token.attachListener)
    }

    /// Bytes received from and sent to the guest so far.
    public var traffic: (fromGuest: Int, toGuest: Int) { counters.withLock { $0 } }

    public func start() throws {
        thread = try OSThread(name: "avp-console") { [self] in run() }
    }

    /// Stops the thread and removes both socket files (where they are still this hub's).
    public func stop() {
        stopEvent.signal()
        thread?.join()
        thread = nil
        guestListener.removeFile()
        attachListener.removeFile()
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            guard let events = try? epoll.wait() else { return }
            for event in events {
                switch event.token {
                case Token.stop:
                    return
                case Token.guestListener:
                    acceptGuest()
                case Token.attachListener:
                    acceptClient()
                case Token.guest:
                    guard let guest else { continue }
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(guest.rawValue, $0.baseAddress, $0.count) }
                    if n <= 0 {
                        epoll.remove(guest.rawValue)
                        self.guest = nil
                        logger.info("guest console disconnected")
                        continue
                    }
                    fromGuest(Array(buffer[0..<n]))
                default:
                    let fd = Int32(truncatingIfNeeded: event.token - Token.clientBase)
                    guard let client = clients[fd] else { continue }
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(client.rawValue, $0.baseAddress, $0.count) }
                    if n <= 0 {
                        epoll.remove(fd)
                        clients[fd] = nil
                        continue
                    }
                    toGuest(Array(buffer[0..<n]))
                }
            }
        }
    }

    private func acceptGuest() {
        guard let socket = (try? guestListener.accept()) ?? nil else { return }
        if let old = guest { epoll.remove(old.rawValue) }
        guest = socket
        try? epoll.add(socket.rawValue, events: [.readable, .peerClosed], token: Token.guest)
        logger.info("guest console connected")
    }

    private func acceptClient() {
        guard let socket = (try? attachListener.accept()) ?? nil else { return }
        try? socket.descriptor.setNonBlocking()
        clients[socket.rawValue] = socket
        try? epoll.add(socket.rawValue, events: [.readable, .peerClosed], token: Token.clientBase + UInt64(UInt32(bitPattern: socket.rawValue)))
        if !recent.isEmpty { send(recent, to: socket) }
    }

    private func fromGuest(_ bytes: [UInt8]) {
        counters.withLock { $0.fromGuest += bytes.count }
        try? log.writeAll(bytes)
        recent += bytes
        if recent.count > Self.replayBytes { recent.removeFirst(recent.count - Self.replayBytes) }
        for client in clients.values { send(bytes, to: client) }
    }

    private func toGuest(_ bytes: [UInt8]) {
        guard let guest else { return }
        counters.withLock { $0.toGuest += bytes.count }
        // Never blocking: a guest that does not read its console must not stall the hub (and with it
        // every client and the stop); typed input it has no room for is dropped, like output to a slow client.
        send(bytes, to: guest)
    }

    /// Best effort: a peer whose socket is full misses these bytes.
    private func send(_ bytes: [UInt8], to client: UnixSocket) {
        _ = try? client.sendNonBlocking(bytes)
    }
}
