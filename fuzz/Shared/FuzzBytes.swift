/// A fuzzer's input read front to back as little-endian fields; zeros once it is used up, so every
/// input, however short, is a whole run.
struct FuzzBytes {
    let data: UnsafePointer<UInt8>
    let count: Int
    var offset = 0

    var isEmpty: Bool { offset >= count }
    mutating func u8() -> UInt8 {
        guard offset < count else { return 0 }
        defer { offset += 1 }
        return data[offset]
    }
    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in u8() } }
}
