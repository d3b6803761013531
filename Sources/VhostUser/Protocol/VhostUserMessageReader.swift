#if canImport(Glibc)
import Glibc
#endif
import SystemCalls

/// Assembles vhost-user messages from a socket piece by piece, so a server can read a
/// non-blocking socket without ever waiting for the rest of a message: a front end that
/// stops half-way costs a timer, not a thread. Reads never run past the current message,
/// so descriptors sent with a message stay attached to it. The single parser of message
/// framing for both ends (the Swift front end reads blocking sockets through it too).
public struct VhostUserMessageReader {
    public enum Outcome {
        /// A whole message.
        case message(VhostUserMessage)
        /// The socket has nothing more for now (non-blocking sockets only).
        case wouldBlock
        /// The peer closed the connection between messages.
        case closed
    }

    private var header: VhostUserHeader?
    private var buffer: [UInt8] = []
    private var descriptors: [FileDescriptor] = []
    /// Monotonic time at which the message being assembled began; nil between messages.
    public private(set) var partialSince: Double?

    public init() {}

    /// Reads what the socket has, up to the end of the current message.
    public mutating func next(from socket: UnixSocket) throws(VhostUserError) -> Outcome {
        while true {
            let wanted = header.map { Int($0.size) } ?? VhostUserHeader.size
            if buffer.count == wanted {
                if let header {
                    return .message(finish(header))
                }
                let parsed = try VhostUserHeader(bytes: buffer)
                buffer = []
                buffer.reserveCapacity(Int(parsed.size))
                header = parsed
                if parsed.size == 0 { return .message(finish(parsed)) }
                continue
            }
            let piece: UnixSocket.Received
            do { piece = try socket.receive(upTo: wanted - buffer.count) } catch {
                if error.code == EAGAIN || error.code == EWOULDBLOCK {
                    // A blocking socket with SO_RCVTIMEO also ends here: the peer went quiet mid-message.
                    return .wouldBlock
                }
                throw .connectionFailed(error.description)
            }
            descriptors += piece.descriptors
            if piece.descriptorsTruncated || descriptors.count > UnixSocket.maxDescriptors {
                throw .tooManyDescriptors(limit: UnixSocket.maxDescriptors)
            }
            if piece.bytes.isEmpty {
                if partialSince == nil { return .closed }
                throw .disconnected
            }
            if partialSince == nil { partialSince = MonotonicClock.seconds() }
            buffer += piece.bytes
        }
    }

    /// Whether part of a message has arrived and the rest has not.
    public var isPartial: Bool { partialSince != nil }

    private mutating func finish(_ header: VhostUserHeader) -> VhostUserMessage {
        let message = VhostUserMessage(header: header, payload: buffer, descriptors: descriptors)
        self.header = nil
        buffer = []
        descriptors = []
        partialSince = nil
        return message
    }
}
