import SystemCalls

/// A GUID as UEFI stores it (UEFI 2.10 Appendix A): the first three fields little-endian,
/// the last eight bytes in order, so "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" is stored as
/// 28 73 2A C1 1F F8 D2 11 BA 4B 00 A0 C9 3E C9 3B.
public struct Guid: Sendable, Equatable, CustomStringConvertible {
    /// The 16 bytes in on-disk order.
    public let bytes: [UInt8]

    /// Parses the registry form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`; nil if it is not one.
    public init?(_ text: String) {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return nil }
        var fields: [[UInt8]] = []
        for group in groups {
            var bytes: [UInt8] = []
            var index = group.startIndex
            while index < group.endIndex {
                let next = group.index(index, offsetBy: 2)
                guard let byte = UInt8(group[index..<next], radix: 16) else { return nil }
                bytes.append(byte)
                index = next
            }
            fields.append(bytes)
        }
        bytes = fields[0].reversed() + fields[1].reversed() + fields[2].reversed() + fields[3] + fields[4]
    }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a GUID has 16 bytes")
        self.bytes = bytes
    }

    /// A random (version 4, RFC 9562 §5.4) GUID from getrandom(2).
    public static func random() throws -> Guid {
        var bytes = try SystemRandom.bytes(16)
        bytes[7] = bytes[7] & 0x0F | 0x40  // version, in the little-endian third field
        bytes[8] = bytes[8] & 0x3F | 0x80  // variant
        return Guid(bytes: bytes)
    }

    public var description: String {
        func hex(_ slice: some Sequence<UInt8>) -> String {
            slice.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined()
        }
        return [hex(bytes[0..<4].reversed()), hex(bytes[4..<6].reversed()), hex(bytes[6..<8].reversed()),
                hex(bytes[8..<10]), hex(bytes[10..<16])].joined(separator: "-")
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
