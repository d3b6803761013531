import ServerCommands

/// An IPv4 address with its prefix length, as `address:` of a net device writes it
/// (`10.0.0.1/24`) and the guest's init reads it from `avp.ip=MAC,ADDRESS/PREFIX`.
public struct IPv4Interface: Hashable, Sendable, CustomStringConvertible {
    public let octets: [UInt8]
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, case let .value(prefix) = WholeNumber.read(String(parts[1])), (1...32).contains(prefix) else { return nil }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).map { part -> UInt8? in
            guard case let .value(n) = WholeNumber.read(String(part)), !part.hasPrefix("+"), !part.hasPrefix("-") else { return nil }
            return UInt8(exactly: n)
        }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil }) else { return nil }
        self.octets = octets.compactMap { $0 }
        self.prefix = prefix
    }

    /// A link-local address (RFC 3927) in 169.254.1.0 to 169.254.254.255, derived from the
    /// interface's MAC: stable across reboots, unique when the MACs' last two bytes are.
    public init(linkLocalFor bytes: [UInt8]) {
        octets = [169, 254, 1 + bytes[4] % 254, bytes[5]]
        prefix = 16
    }

    /// 0.0.0.0/8, 127/8, multicast (224/4) and above: not an interface's address.
    public var isAssignable: Bool { octets[0] != 0 && octets[0] != 127 && octets[0] < 224 }

    public var address: String { octets.map(String.init).joined(separator: ".") }
    public var description: String { "\(address)/\(prefix)" }
}
