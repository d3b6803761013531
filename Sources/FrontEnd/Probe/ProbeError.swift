/// Why a probe could not run at all (a failed check is a verdict instead, never an error).
public enum ProbeError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownKind(String)
    /// Nothing answered on the socket.
    case connectFailed(socket: String, reason: String)
    /// The back end broke the vhost-user handshake (negotiation, memory, queue set-up).
    case handshakeFailed(step: String, reason: String)

    public var description: String {
        switch self {
        case let .unknownKind(name):
            "unknown probe kind '\(name)' (one of: \(ProbeKind.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .connectFailed(socket, reason): "cannot connect to \(socket): \(reason)"
        case let .handshakeFailed(step, reason): "vhost-user handshake failed at \(step): \(reason)"
        }
    }
}
