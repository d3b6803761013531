/// A connected Unix stream to a host process that never makes its caller wait: sends take
/// what the socket buffer holds now, receives return what has already arrived. For a
/// device's host side (console, vsock), whose thread also serves a guest and must not
/// stall because a host process stopped reading or writing.
public final class NonBlockingStream: Sendable {
    public let socket: UnixSocket

    /// Takes `socket` (an accepted or connected stream) and makes it non-blocking.
    public init(adopting socket: UnixSocket) throws(Errno) {
        try socket.descriptor.setNonBlocking()
        self.socket = socket
    }

    /// Connects to the Unix socket at `path` without waiting: a listener whose backlog is
    /// full refuses at once (EAGAIN) instead of holding the caller up.
    public static func connect(to path: String) throws(Errno) -> NonBlockingStream {
        try NonBlockingStream(adopting: UnixSocket.connect(to: path, nonBlocking: true))
    }

    /// The descriptor, for an epoll set.
    public var rawValue: Int32 { socket.rawValue }

    /// Sends what the socket buffer takes now (see `UnixSocket.sendNonBlocking`).
    public func send(_ bytes: [UInt8]) throws(Errno) -> UnixSocket.SendResult { try socket.sendNonBlocking(bytes) }

    /// Receives up to `count` bytes that have arrived (see `UnixSocket.receiveNonBlocking`).
    public func receive(upTo count: Int) throws(Errno) -> UnixSocket.ReceiveResult { try socket.receiveNonBlocking(upTo: count) }

    /// Ends one or both directions; the descriptor stays open until the stream is released.
    public func shutdown(_ direction: UnixSocket.ShutdownDirection = .both) { socket.shutdown(direction) }
}
