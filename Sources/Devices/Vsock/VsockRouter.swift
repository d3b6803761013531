import Synchronization

/// The vsock fabric of one server: which VM has which CID, and which pairs of VMs
/// may open connections to each other (the platform file's policy). Packets between
/// VMs pass through here from one VM's thread to the other's inbox.
public final class VsockRouter: Sendable {
    private struct State {
        var devices: [UInt64: VsockDevice] = [:]
    }
    private let state = Mutex(State())
    /// Allowed VM pairs, by CID, both directions.
    private let allowed: Set<[UInt64]>

    /// `pairs` lists CID pairs allowed to talk (order does not matter).
    public init(allowedPairs pairs: [(UInt64, UInt64)]) {
        var set = Set<[UInt64]>()
        for (a, b) in pairs { set.insert([a, b]); set.insert([b, a]) }
        allowed = set
    }

    func register(_ device: VsockDevice) { state.withLock { $0.devices[device.cid] = device } }

    public func allows(_ a: UInt64, _ b: UInt64) -> Bool { allowed.contains([a, b]) }

    /// Delivers a packet from one VM to another; false if the destination is unknown or not allowed.
    func forward(_ packet: VsockPacket) -> Bool {
        guard allows(packet.sourceCID, packet.destinationCID),
              let target = state.withLock({ $0.devices[packet.destinationCID] }) else { return false }
        return target.receiveFromPeer(packet)
    }
}
