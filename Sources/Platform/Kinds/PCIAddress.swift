/// A host PCI function's address as sysfs and QEMU's `vfio-pci,host=` write it:
/// `DDDD:BB:DD.F` (domain, bus, device, function; hexadecimal, device at most 1f,
/// function at most 7). `BB:DD.F` means domain 0000, as lspci prints it.
public struct PCIAddress: Sendable, Hashable, CustomStringConvertible {
    public let domain: UInt16
    public let bus: UInt8
    public let device: UInt8
    public let function: UInt8

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (either case); nil for anything else.
    public init?(_ text: String) {
        guard text.utf8.count <= 12 else { return nil }
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 { parts.insert("0000", at: 0) }
        guard parts.count == 3 else { return nil }
        let slot = parts[2].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard slot.count == 2,
              let domain = Self.hex(parts[0], digits: 4).map(UInt16.init),
              let bus = Self.hex(parts[1], digits: 2).map(UInt8.init),
              let device = Self.hex(slot[0], digits: 2), device <= 0x1f,
              let function = Self.hex(slot[1], digits: 1), function <= 7 else { return nil }
        self.domain = domain
        self.bus = bus
        self.device = UInt8(device)
        self.function = UInt8(function)
    }

    /// Exactly `digits` hexadecimal digits.
    private static func hex(_ text: String, digits: Int) -> UInt32? {
        guard text.utf8.count == digits, text.utf8.allSatisfy({ $0 < 0x80 && $0.isHexDigit }) else { return nil }
        return UInt32(text, radix: 16)
    }

    /// The canonical form: `0000:03:00.0`, lower case.
    public var description: String {
        "\(Self.pad(UInt32(domain), 4)):\(Self.pad(UInt32(bus), 2)):\(Self.pad(UInt32(device), 2)).\(function)"
    }

    private static func pad(_ value: UInt32, _ width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

private extension UInt8 {
    var isHexDigit: Bool { (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self) }
}
