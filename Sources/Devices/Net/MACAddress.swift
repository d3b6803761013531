/// An Ethernet MAC address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The six bytes, first byte most significant (no allocation: this is on the forwarding path).
    public let value: UInt64

    public static let broadcast = MACAddress(value: 0xffff_ffff_ffff)

    public init(value: UInt64) { self.value = value & 0xffff_ffff_ffff }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 6)
        value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The address at `offset` in a frame.
    public init(_ frame: [UInt8], at offset: Int) {
        var v: UInt64 = 0
        for i in 0..<6 { v = v << 8 | UInt64(frame[offset + i]) }
        value = v
    }

    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: value >> (40 - 8 * UInt64($0))) } }

    /// "52:54:00:12:34:56" (or with '-').
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count == 2, let byte = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(byte)
        }
        value = v
    }

    /// A stable, locally administered unicast address derived from `seed` (FNV-1a):
    /// the same platform and VM always get the same MAC, across reboots and hosts.
    public static func derived(from seed: String) -> MACAddress {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in seed.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        var b = (0..<6).map { UInt8(truncatingIfNeeded: h >> (8 * UInt64($0))) }
        b[0] = (b[0] & 0xfc) | 0x02   // locally administered, unicast
        return MACAddress(bytes: b)
    }

    /// Group (multicast or broadcast) addresses have the least significant bit of the first byte set.
    public var isMulticast: Bool { value >> 40 & 1 == 1 }
    public var isZero: Bool { value == 0 }

    public var description: String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":") }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let mac = MACAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a MAC address: \(text)"))
        }
        self = mac
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

