/// The device a probe expects behind a socket. vhost-user never tells the device type
/// (QEMU knows it from its own `-device` option), so the user names it.
public enum ProbeKind: String, Sendable, CaseIterable {
    case block
    case entropy
    case gpu

    /// The kind named `name` (as `avp serve` names it; `rng`, `blk` and `virtio-*` spellings too).
    public init(parsing name: String) throws(ProbeError) {
        let lowered = name.lowercased()
        let bare = lowered.hasPrefix("virtio-") ? String(lowered.dropFirst("virtio-".count)) : lowered
        switch bare {
        case "block", "blk": self = .block
        case "entropy", "rng": self = .entropy
        case "gpu": self = .gpu
        default: throw .unknownKind(name)
        }
    }

    /// The VIRTIO device id the kind has (VIRTIO 1.2 §5): what QEMU would expose to the guest.
    public var virtioDeviceID: Int {
        switch self {
        case .block: 2
        case .entropy: 4
        case .gpu: 16
        }
    }
}
