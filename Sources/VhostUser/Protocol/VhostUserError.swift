/// A vhost-user protocol violation by the peer, or a request the back end refuses.
public enum VhostUserError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(expected: Int, got: Int)
    case badVersion(UInt32)
    case payloadTooLarge(UInt32)
    case unknownRequest(UInt32)
    case wrongPayloadSize(request: String, size: Int)
    case wrongDescriptorCount(request: String, expected: Int, got: Int)
    case tooManyRegions(Int)
    case invalidQueueIndex(UInt32)
    case refused(String)
    case unexpectedReply(String)
    case disconnected
    /// The peer started a message and stopped sending before its end.
    case stalled
    /// One message carried more descriptors than a message may (the kernel drops the rest).
    case tooManyDescriptors(limit: Int)
    /// The socket itself failed (reset, or a send the peer would not take).
    case connectionFailed(String)

    public var description: String {
        switch self {
        case let .truncated(expected, got): return "message truncated: needed \(expected) bytes, got \(got)"
        case let .badVersion(flags): return "unsupported protocol version in flags 0x\(String(flags, radix: 16))"
        case let .payloadTooLarge(n): return "payload of \(n) bytes is over the limit"
        case let .unknownRequest(r): return "unknown request \(r)"
        case let .wrongPayloadSize(request, size): return "\(request) with a \(size)-byte payload"
        case let .wrongDescriptorCount(request, expected, got):
            return "\(request) carried \(got) file descriptors, expected \(expected)"
        case let .tooManyRegions(n): return "\(n) memory regions"
        case let .invalidQueueIndex(i): return "queue index \(i) out of range"
        case let .refused(why): return why
        case let .unexpectedReply(why): return "unexpected reply: \(why)"
        case .disconnected: return "peer disconnected"
        case .stalled: return "peer stopped sending in the middle of a message"
        case let .tooManyDescriptors(limit): return "a message carried more than \(limit) file descriptors (the most one message may carry)"
        case let .connectionFailed(why): return "connection failed: \(why)"
        }
    }
}
