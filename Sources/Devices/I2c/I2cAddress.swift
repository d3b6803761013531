/// A 7-bit I2C target address (I2C-bus specification UM10204 §3.1.10). The ones a VM may be
/// given are `assignable`: 0x00–0x07 and 0x78–0x7F are reserved (general call, CBUS, HS-mode
/// masters, 10-bit addressing).
public struct I2cAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt8

    /// Addresses a platform may give a VM's target.
    public static let assignable: ClosedRange<UInt8> = 0x08...0x77

    /// Any 7-bit address; nil above 0x7F.
    public init?(_ value: UInt8) {
        guard value < 0x80 else { return nil }
        self.value = value
    }

    /// "0x50" (hexadecimal) or "80" (decimal), at most 7 bits; nil otherwise.
    public init?(parsing text: String) {
        let number: UInt8?
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            let digits = text.dropFirst(2)
            number = (1...2).contains(digits.count) ? UInt8(digits, radix: 16) : nil
        } else {
            number = (1...3).contains(text.count) && text.allSatisfy(\.isASCII) ? UInt8(text) : nil
        }
        guard let number, let address = I2cAddress(number) else { return nil }
        self = address
    }

    /// `addr` of `virtio_i2c_out_hdr` (VIRTIO 1.2 §5.16.6.1): 7-bit mode puts A6–A0 in bits 7–1,
    /// bits 15–8 and 0 clear. Nil for anything else (10-bit mode, which Linux never sends, or a
    /// set bit 0).
    public init?(wire: UInt16) {
        guard wire & 0xFF01 == 0 else { return nil }
        value = UInt8(wire >> 1)
    }

    /// The `addr` field for this address (VIRTIO 1.2 §5.16.6.1).
    public var wire: UInt16 { UInt16(value) << 1 }

    public var isAssignable: Bool { Self.assignable.contains(value) }

    /// "0x50".
    public var description: String {
        let hex = String(value, radix: 16)
        return "0x" + (hex.count < 2 ? "0" + hex : hex)
    }

    public static func < (a: I2cAddress, b: I2cAddress) -> Bool { a.value < b.value }
}
