/// Little-endian reading of a message payload; every read is bounds-checked.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }

    public mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self) throws(VhostUserError) -> T {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { throw .truncated(expected: offset + n, got: bytes.count) }
        var value = T.zero
        for i in 0..<n { value |= T(bytes[offset + i]) << (8 * i) }
        offset += n
        return value
    }

    public mutating func readBytes(_ count: Int) throws(VhostUserError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw .truncated(expected: offset + count, got: bytes.count) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }
}

/// Little-endian building of a message payload.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        for i in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    public mutating func write(bytes more: [UInt8]) { bytes += more }
}
