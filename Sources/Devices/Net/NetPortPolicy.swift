/// What a switch port lets its VM do ({AVPS-v2.0-14}, AVPS §2.7): the stable MAC the
/// platform gave it, other source MACs it may use, whether the guest may switch to a
/// MAC of its own, and the largest frame payload (MTU).
public struct NetPortPolicy: Sendable, Equatable {
    public enum MACChange: String, Sendable, Codable, CaseIterable {
        /// The guest may use a MAC of its own choosing; the switch follows it.
        case allow
        /// Frames from any source MAC but the stable one (and `extraMACs`) are dropped.
        case deny
    }

    public var name: String
    public var mac: MACAddress
    public var extraMACs: [MACAddress] = []
    public var macChange: MACChange = .allow
    public var mtu: Int = 1500

    public init(name: String, mac: MACAddress, extraMACs: [MACAddress] = [], macChange: MACChange = .allow, mtu: Int = 1500) {
        self.name = name
        self.mac = mac
        self.extraMACs = extraMACs
        self.macChange = macChange
        self.mtu = mtu
    }

    /// Ethernet header (14) plus an optional 802.1Q tag (4) on top of the MTU.
    public var maxFrameLength: Int { mtu + 18 }

    public func permits(source: MACAddress) -> Bool {
        guard !source.isMulticast, !source.isZero else { return false }
        return macChange == .allow || source == mac || extraMACs.contains(source)
    }
}
