/// `struct virtio_blk_config` as a back end reports it with GET_CONFIG (VIRTIO 1.2 §5.2.4),
/// little-endian, up to `write_zeroes_may_unmap`. Decoded by the probe itself, not by AVP's
/// device code, so the probe checks AVP's server independently.
public struct BlockProbeConfig: Sendable, Equatable {
    /// Bytes read: through `write_zeroes_may_unmap` and its padding.
    public static let size = 60
    /// `writeback` (with VIRTIO_BLK_F_CONFIG_WCE), the one field a driver writes.
    public static let writebackOffset = 32

    public var capacity: UInt64
    public var sizeMax: UInt32
    public var segMax: UInt32
    public var blockSize: UInt32
    public var physicalBlockExponent: UInt8
    public var minIOSize: UInt16
    public var optimalIOSize: UInt32
    public var writeback: UInt8
    public var numQueues: UInt16
    public var maxDiscardSectors: UInt32
    public var maxDiscardSegments: UInt32
    public var discardSectorAlignment: UInt32
    public var maxWriteZeroesSectors: UInt32
    public var maxWriteZeroesSegments: UInt32

    /// Decodes at least `size` bytes; nil when fewer came.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= Self.size else { return nil }
        func le<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            var value: T = 0
            for i in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[offset + i]) << (8 * i) }
            return value
        }
        capacity = le(0, UInt64.self)
        sizeMax = le(8, UInt32.self)
        segMax = le(12, UInt32.self)
        blockSize = le(20, UInt32.self)
        physicalBlockExponent = bytes[24]
        minIOSize = le(26, UInt16.self)
        optimalIOSize = le(28, UInt32.self)
        writeback = bytes[Self.writebackOffset]
        numQueues = le(34, UInt16.self)
        maxDiscardSectors = le(36, UInt32.self)
        maxDiscardSegments = le(40, UInt32.self)
        discardSectorAlignment = le(44, UInt32.self)
        maxWriteZeroesSectors = le(48, UInt32.self)
        maxWriteZeroesSegments = le(52, UInt32.self)
    }

    /// The fields as evidence, `name=value`.
    public var evidence: String {
        "capacity=\(capacity) sectors (\(capacity / 2048) MiB), size_max=\(sizeMax), seg_max=\(segMax), blk_size=\(blockSize), "
            + "physical_block_exp=\(physicalBlockExponent), min_io_size=\(minIOSize), opt_io_size=\(optimalIOSize), "
            + "writeback=\(writeback), num_queues=\(numQueues), max_discard_sectors=\(maxDiscardSectors), "
            + "max_discard_seg=\(maxDiscardSegments), discard_sector_alignment=\(discardSectorAlignment), "
            + "max_write_zeroes_sectors=\(maxWriteZeroesSectors), max_write_zeroes_seg=\(maxWriteZeroesSegments)"
    }
}

/// virtio-blk constants the probe needs (VIRTIO 1.2 §5.2.3, §5.2.6).
public enum BlockProbeSpec {
    public static let segMaxBit = 2
    public static let readOnlyBit = 5
    public static let blockSizeBit = 6
    public static let flushBit = 9
    public static let configWCEBit = 11
    public static let multiQueueBit = 12
    public static let discardBit = 13
    public static let writeZeroesBit = 14

    public enum RequestType: UInt32, Sendable {
        case read = 0
        case write = 1
        case flush = 4
        case getID = 8
        case discard = 11
    }

    /// The status byte a device writes last (`VIRTIO_BLK_S_*`).
    public static func statusName(_ status: UInt8) -> String {
        switch status {
        case 0: "OK"
        case 1: "IOERR"
        case 2: "UNSUPP"
        default: "invalid status \(status)"
        }
    }

    public static let sectorSize = 512
    /// VIRTIO_BLK_ID_BYTES.
    public static let idBytes = 20
}
