/// Which stream of which guest a sink or source port belongs to. One sink may serve the
/// streams of several VMs at once (a mixer), and tells them apart by this.
public struct SoundStreamTag: Sendable, Hashable, CustomStringConvertible {
    /// The guest (or server) the stream belongs to.
    public var origin: String
    /// The stream ID within its device.
    public var stream: UInt32

    public init(origin: String, stream: UInt32) {
        self.origin = origin
        self.stream = stream
    }

    public var description: String { "\(origin)/stream \(stream)" }
}

/// Why the host side of a stream failed; the guest sees VIRTIO_SND_S_IO_ERR.
public enum SoundHostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The sink or source takes no more streams (a WAV file records one at a time).
    case busy(String)
    /// Writing or reading the host's file or device failed.
    case io(String)
    /// The sink or source was closed.
    case closed

    public var description: String {
        switch self {
        case let .busy(what): "busy: \(what)"
        case let .io(what): "I/O error: \(what)"
        case .closed: "closed"
        }
    }
}
