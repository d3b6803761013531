/// `virtio_gpu_ctrl_hdr` (VIRTIO 1.2 §5.7.6.7), 24 bytes at the start of every request
/// and response. A response copies the request's fence (flag, id, context) so the
/// driver can signal it (§5.7.6.7: the device MUST set VIRTIO_GPU_FLAG_FENCE and the
/// same fence_id when the request had it).
public struct GpuControlHeader: Sendable, Equatable {
    public static let size = 24
    public static let fenceFlag: UInt32 = 1 << 0

    public var type: UInt32
    public var flags: UInt32
    public var fenceID: UInt64
    public var contextID: UInt32
    public var ringIndex: UInt8

    public init(type: UInt32, flags: UInt32 = 0, fenceID: UInt64 = 0, contextID: UInt32 = 0, ringIndex: UInt8 = 0) {
        self.type = type
        self.flags = flags
        self.fenceID = fenceID
        self.contextID = contextID
        self.ringIndex = ringIndex
    }

    public var isFenced: Bool { flags & Self.fenceFlag != 0 }

    /// The header of the response to a request with this header.
    public func response(_ type: UInt32) -> GpuControlHeader {
        GpuControlHeader(type: type, flags: flags & Self.fenceFlag, fenceID: isFenced ? fenceID : 0,
                         contextID: contextID, ringIndex: 0)
    }

    public var bytes: [UInt8] {
        var w = LittleEndianBytes()
        w.append(type); w.append(flags); w.append(fenceID); w.append(contextID); w.append(ringIndex)
        w.append(bytes: [0, 0, 0])
        return w.bytes
    }
}

/// Little-endian encoding of virtio structures.
struct LittleEndianBytes {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(bytes more: [UInt8]) { bytes.append(contentsOf: more) }
}

/// Little-endian reading of a request already copied out of the guest; every read is bounds-checked.
struct LittleEndianReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        var value = T.zero
        for i in 0..<size { value |= T(bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }
}
