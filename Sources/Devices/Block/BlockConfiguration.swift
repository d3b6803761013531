/// The virtio-blk configuration space (VIRTIO 1.2 §5.2.4, `struct virtio_blk_config`),
/// little-endian, up to and including the secure-erase fields (which stay zero).
public struct BlockConfiguration: Equatable, Sendable {
    /// Bytes exposed; QEMU reads as much as the negotiated features imply (at most this).
    public static let size = 96
    /// Offset of `writeback`, the one field a driver may write (with VIRTIO_BLK_F_CONFIG_WCE).
    public static let writebackOffset = 32

    public var capacitySectors: UInt64
    public var sizeMax: UInt32
    public var segMax: UInt32
    public var blockSize: UInt32
    public var physicalBlockExponent: UInt8
    public var minIOSize: UInt16
    public var optimalIOSize: UInt32
    /// 1: write back (flushes needed), 0: write through.
    public var writeback: UInt8
    public var queueCount: UInt16
    public var maxDiscardSectors: UInt32
    public var maxDiscardSegments: UInt32
    public var discardSectorAlignment: UInt32
    public var maxWriteZeroesSectors: UInt32
    public var maxWriteZeroesSegments: UInt32
    public var writeZeroesMayUnmap: UInt8

    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size)
        func put<T: FixedWidthInteger>(_ v: T, _ offset: Int) {
            for i in 0..<MemoryLayout<T>.size { b[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
        }
        put(capacitySectors, 0)
        put(sizeMax, 8)
        put(segMax, 12)
        // geometry (16..19) stays zero: no CHS for a virtual disk.
        put(blockSize, 20)
        put(physicalBlockExponent, 24)
        // alignment_offset (25) = 0
        put(minIOSize, 26)
        put(optimalIOSize, 28)
        put(writeback, Self.writebackOffset)
        put(queueCount, 34)
        put(maxDiscardSectors, 36)
        put(maxDiscardSegments, 40)
        put(discardSectorAlignment, 44)
        put(maxWriteZeroesSectors, 48)
        put(maxWriteZeroesSegments, 52)
        put(writeZeroesMayUnmap, 56)
        return b
    }
}
