import Synchronization

/// A learning Ethernet switch joining AVP's virtio-net ports ({AVPS-v2.0-15}): source
/// MACs are learned per port, unicast goes to the port that owns the destination,
/// broadcast, multicast and unknown destinations are flooded to every other port.
/// Called from every port's thread; only the MAC table is shared.
///
/// The table is bounded: a port learns at most `addressesPerPort` source MACs (a guest allowed to
/// change its MAC could otherwise send from endless addresses and grow the table without limit).
/// Past that, frames from a new address are still forwarded, and frames to it are flooded.
public final class EthernetSwitch: Sendable {
    private struct State {
        var ports: [Int: SwitchPort] = [:]
        var table: [MACAddress: Int] = [:]
        /// Addresses in `table` per port.
        var learned: [Int: Int] = [:]
        var nextID = 1
    }
    private let state = Mutex(State())
    public let addressesPerPort: Int

    public init(addressesPerPort: Int = 256) { self.addressesPerPort = max(1, addressesPerPort) }

    /// Source MACs the switch knows now (all ports).
    public var learnedAddresses: Int { state.withLock { $0.table.count } }

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
        state.withLock { s in
            s.table = s.table.filter { $0.value != id }
            s.learned[id] = nil
        }
    }

    /// Forwards a frame the VM on `sender` sent (already checked against the sender's policy);
    /// returns the ports it was queued for, which the caller wakes once per batch.
    func forward(_ frame: [UInt8], from sender: Int, source: MACAddress) -> [SwitchPort] {
        let destination = MACAddress(frame, at: 0)
        let targets: [SwitchPort] = state.withLock { s in
            if s.table[source] != sender { Self.learn(source, on: sender, in: &s, limit: addressesPerPort) }
            if !destination.isMulticast, let id = s.table[destination] {
                return id == sender ? [] : s.ports[id].map { [$0] } ?? []
            }
            return s.ports.filter { $0.key != sender }.map(\.value)
        }
        return targets.filter { $0.deliver(frame, from: sender) }
    }

    /// Moves or adds `source` to `port` unless the port already has its share of the table.
    private static func learn(_ source: MACAddress, on port: Int, in s: inout State, limit: Int) {
        if let owner = s.table.removeValue(forKey: source) { s.learned[owner, default: 1] -= 1 }
        guard s.learned[port, default: 0] < limit else { return }
        s.table[source] = port
        s.learned[port, default: 0] += 1
    }

    /// Counters of every port, by port name.
    public var counters: [String: NetPortCounters] {
        let ports = state.withLock { Array($0.ports.values) }
        return Dictionary(ports.map { ($0.policy.name, $0.counters) }, uniquingKeysWith: { a, _ in a })
    }
}
