/// CRC-32 (ISO 3309, ITU-T V.42; reflected polynomial 0xEDB88320), the one PNG chunks and
/// zlib use: PNG files, and the compositor's safety check, which compares the CRC of what a
/// display shows in a safety region with the CRC of the source's pixels there
/// ({AVPS-v2.0-29}, AVPS 2.8.4). Computed 16 bytes at a time ("slicing by 16"), so checking
/// the regions of every composed frame costs little; fed piece by piece, so a region's rows
/// need not be contiguous.
public struct CRC32: Sendable {
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// The CRC of everything fed so far.
    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32()
        bytes.withUnsafeBytes { crc.update($0) }
        return crc.value
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var c = state
        var p = base
        var n = bytes.count
        Self.tables.withUnsafeBufferPointer { t in
            @inline(__always) func word(_ w: UInt32, _ table: Int) -> UInt32 {
                t[(table + 3) * 256 + Int(w & 0xFF)] ^ t[(table + 2) * 256 + Int(w >> 8 & 0xFF)]
                    ^ t[(table + 1) * 256 + Int(w >> 16 & 0xFF)] ^ t[table * 256 + Int(w >> 24)]
            }
            while n >= 16 {
                let one = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ c
                let two = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                let three = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                let four = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                c = word(one, 12) ^ word(two, 8) ^ word(three, 4) ^ word(four, 0)
                p += 16
                n -= 16
            }
            while n > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
        }
        state = c
    }

    /// Table k (entries k*256 ..< (k+1)*256) advances a byte that is followed by k more bytes;
    /// table 0 is the classic byte-at-a-time table.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 16 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for k in 1..<16 {
            for n in 0..<256 {
                let previous = t[(k - 1) * 256 + n]
                t[k * 256 + n] = (previous >> 8) ^ t[Int(previous & 0xFF)]
            }
        }
        return t
    }()
}
