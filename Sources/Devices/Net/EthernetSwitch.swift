import Synchronization

/// A learning Ethernet switch joining AVP's virtio-net ports ({AVPS-v2.0-15}): source
/// MACs are learned per port, unicast goes to the port that owns the destination,
/// broadcast, multicast and unknown destinations are flooded to every other port.
/// Called from every port's thread; only the MAC table is shared.
public final class EthernetSwitch: Sendable {
    private struct State {
        var ports: [Int: SwitchPort] = [:]
        var table: [MACAddress: Int] = [:]
        var nextID = 1
    }
    private let state = Mutex(State())

    public init() {}

    func register(_ port: SwitchPort) -> Int {
        state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            s.ports[id] = port
            return id
        }
    }

    /// Forgets the MACs learned on a port (its VM went away).
    func forget(port id: Int) {
        state.withLock { s in s.table = s.table.filter { $0.value != id } }
    }

    /// Forwards a frame the VM on `sender` sent (already checked against the sender's policy);
    /// returns the ports it was queued for, which the caller wakes once per batch.
    func forward(_ frame: [UInt8], from sender: Int, source: MACAddress) -> [SwitchPort] {
        let destination = MACAddress(frame, at: 0)
        let targets: [SwitchPort] = state.withLock { s in
            if s.table[source] != sender { s.table[source] = sender }
            if !destination.isMulticast, let id = s.table[destination] {
                return id == sender ? [] : s.ports[id].map { [$0] } ?? []
            }
            return s.ports.filter { $0.key != sender }.map(\.value)
        }
        return targets.filter { $0.deliver(frame, from: sender) }
    }

    /// Counters of every port, by port name.
    public var counters: [String: NetPortCounters] {
        let ports = state.withLock { Array($0.ports.values) }
        return Dictionary(ports.map { ($0.policy.name, $0.counters) }, uniquingKeysWith: { a, _ in a })
    }
}
