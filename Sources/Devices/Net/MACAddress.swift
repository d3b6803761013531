/// An Ethernet MAC address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible, Codable {
    public var bytes: [UInt8]

    public static let broadcast = MACAddress(bytes: [UInt8](repeating: 0xff, count: 6))

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 6)
        self.bytes = bytes
    }

    /// "52:54:00:12:34:56" (or with '-').
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var b: [UInt8] = []
        for p in parts {
            guard p.count == 2, let v = UInt8(p, radix: 16) else { return nil }
            b.append(v)
        }
        bytes = b
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
    public var isMulticast: Bool { bytes[0] & 1 == 1 }
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    public var description: String { bytes.map { String(format: "%02x", $0) }.joined(separator: ":") }

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

import Foundation
