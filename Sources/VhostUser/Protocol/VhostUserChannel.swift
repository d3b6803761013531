#if canImport(Glibc)
import Glibc
#endif
import SystemCalls

/// Whole vhost-user messages over a connected Unix socket, for either end.
public final class VhostUserChannel: Sendable {
    public let socket: UnixSocket

    public init(socket: UnixSocket) { self.socket = socket }

    /// Gives up on a peer that stops mid-message instead of hanging the worker.
    public func setReceiveTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(socket.rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next message, or nil if the peer closed the connection cleanly.
    /// Descriptors sent with any part of the message are attached to it.
    public func receive() throws -> VhostUserMessage? {
        guard let head = try stalling({ try socket.receiveExactly(VhostUserHeader.size) }) else { return nil }
        let header = try VhostUserHeader(bytes: head.bytes)
        var payload: [UInt8] = []
        var descriptors = head.descriptors
        if header.size > 0 {
            guard let body = try stalling({ try socket.receiveExactly(Int(header.size)) }) else { throw VhostUserError.disconnected }
            payload = body.bytes
            descriptors += body.descriptors
        }
        if head.descriptorsTruncated { throw VhostUserError.wrongDescriptorCount(request: "message", expected: UnixSocket.maxDescriptors, got: descriptors.count) }
        return VhostUserMessage(header: header, payload: payload, descriptors: descriptors)
    }

    /// A receive timeout (EAGAIN with SO_RCVTIMEO) reported as what it means.
    private func stalling<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as Errno where error.code == EAGAIN || error.code == EWOULDBLOCK {
            throw VhostUserError.stalled
        }
    }

    /// Sends header and payload in one sendmsg, with the message's descriptors attached.
    public func send(_ message: VhostUserMessage) throws {
        var header = message.header
        header.size = UInt32(message.payload.count)
        try socket.send(header.bytes + message.payload, descriptors: message.descriptors.map(\.rawValue))
    }
}
