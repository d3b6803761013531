#if canImport(Glibc)
import Glibc
#endif
import SystemCalls
import VhostUser

/// Whole vhost-user messages over a connected Unix socket, for either end.
public final class VhostUserChannel: Sendable {
    public let socket: UnixSocket

    public init(socket: UnixSocket) { self.socket = socket }

    /// Gives up on a peer that stops mid-message instead of hanging the worker.
    public func setReceiveTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(socket.rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next message, or nil if the peer closed the connection cleanly; for blocking
    /// sockets (the Swift front end). Descriptors sent with any part of the message are attached to it.
    public func receive() throws -> VhostUserMessage? {
        var reader = VhostUserMessageReader()
        switch try reader.next(from: socket) {
        case let .message(message): return message
        case .closed: return nil
        case .wouldBlock: throw VhostUserError.stalled
        }
    }

    /// Sends header and payload in one sendmsg, with the message's descriptors attached.
    public func send(_ message: VhostUserMessage) throws {
        try socket.send(message.wireBytes, descriptors: message.descriptors.map(\.rawValue))
    }
}
