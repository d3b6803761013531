/// EDID blocks (VESA E-EDID 1.4): the one the probe's display socket hands a back end that
/// forwards the VMM's EDID, and the checks on what a GET_EDID returns.
public enum GpuProbeEDID {
    static let header: [UInt8] = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]

    /// 128 bytes for a 1024×768 display: manufacturer "AVP", product 0x5052, serial "PROB",
    /// one detailed timing (1024×768 at 60 Hz, 65 MHz), no extensions.
    public static let probeBlock: [UInt8] = {
        var b = [UInt8](repeating: 0, count: 128)
        b.replaceSubrange(0..<8, with: header)
        // Three 5-bit letters A=1, V=22, P=16, big-endian.
        b[8] = 0x06; b[9] = 0xd0
        b[10] = 0x52; b[11] = 0x50
        b.replaceSubrange(12..<16, with: Array("PROB".utf8))
        b[16] = 1; b[17] = 36 // week 1 of 2026
        b[18] = 1; b[19] = 4 // EDID 1.4
        b[20] = 0x80 // digital input
        b[21] = 52; b[22] = 29 // cm
        b[23] = 120 // gamma 2.2
        b[24] = 0x0a // RGB, preferred timing is native
        for i in stride(from: 38, to: 54, by: 2) { b[i] = 1; b[i + 1] = 1 } // no standard timings
        // Detailed timing: 65 MHz, 1024+320 × 768+38, sync 24/136 and 3/6, 520×290 mm.
        b.replaceSubrange(54..<72, with: [0x64, 0x19, 0x00, 0x40, 0x41, 0x00, 0x26, 0x30, 24, 136, 0x36, 0x00,
                                          0x08, 0x22, 0x21, 0, 0, 0x18])
        for d in [72, 90, 108] { b[d + 3] = 0x10 } // dummy descriptors
        b[127] = UInt8(truncatingIfNeeded: 256 - Int(b[0..<127].reduce(0) { ($0 + Int($1)) % 256 }))
        return b
    }()

    /// What is wrong with `bytes` as an EDID (`size` valid bytes of the response), or nil.
    public static func problem(_ bytes: [UInt8], size: Int) -> String? {
        guard size >= 128, size <= bytes.count, size % 128 == 0 else { return "size \(size) is not a multiple of 128 in 128...1024" }
        guard Array(bytes[0..<8]) == header else { return "no EDID header (00 FF FF FF FF FF FF 00)" }
        let blocks = 1 + Int(bytes[126])
        guard blocks * 128 <= size else { return "\(bytes[126]) extension block(s) announced, \(size) bytes sent" }
        for block in 0..<blocks where bytes[block * 128..<(block + 1) * 128].reduce(0, { ($0 + Int($1)) % 256 }) != 0 {
            return "checksum of block \(block) does not sum to 0"
        }
        return nil
    }

    /// Manufacturer letters, product and version, for evidence.
    public static func summary(_ bytes: [UInt8]) -> String {
        guard bytes.count >= 20 else { return "too short" }
        let id = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        let letters = [10, 5, 0].map { Character(UnicodeScalar(UInt8(0x40 + (id >> UInt16($0)) & 0x1f))) }
        let product = UInt16(bytes[10]) | UInt16(bytes[11]) << 8
        return "manufacturer \(String(letters)), product 0x\(String(product, radix: 16)), EDID \(bytes[18]).\(bytes[19])"
    }
}
