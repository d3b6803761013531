import Devices

/// A GUID Partition Table disk with one partition, as AVP's UEFI boot disks need: the EFI
/// system partition (UEFI 2.10 §5.3 "GUID Partition Table (GPT) Disk Layout").
///
/// Layout (512-byte logical blocks): LBA 0 the protective MBR (§5.2.3), LBA 1 the primary GPT
/// header (§5.3.2), LBAs 2–33 the partition entry array (128 entries of 128 bytes, §5.3.3),
/// the partition from LBA 2048 (1 MiB aligned), then the backup entry array and, in the last
/// LBA, the backup header (§5.3.1).
public struct GptDiskLayout: Sendable {
    public static let blockSize = 512
    /// The EFI system partition's type GUID (UEFI 2.10 §5.3.3, Table 5.7).
    public static let efiSystemPartitionType = Guid("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")!
    static let entryCount = 128
    static let entrySize = 128
    /// Blocks the entry array takes: 128 × 128 / 512.
    static let entryArrayBlocks = entryCount * entrySize / blockSize
    /// Where the partition starts (1 MiB: the alignment partitioning tools use).
    public static let partitionStart = 2048

    /// The partition's size in blocks.
    public var partitionBlocks: Int
    public var partitionType: Guid
    public var partitionName: String
    public var diskGuid: Guid
    public var partitionGuid: Guid

    public init(partitionBlocks: Int, partitionType: Guid = efiSystemPartitionType, partitionName: String = "EFI system partition",
                diskGuid: Guid, partitionGuid: Guid) {
        self.partitionBlocks = partitionBlocks
        self.partitionType = partitionType
        self.partitionName = partitionName
        self.diskGuid = diskGuid
        self.partitionGuid = partitionGuid
    }

    /// The whole disk in blocks: the partition, then the backup array and header, rounded up
    /// to whole MiB.
    public var diskBlocks: Int {
        let needed = Self.partitionStart + partitionBlocks + Self.entryArrayBlocks + 1
        return (needed + 2047) / 2048 * 2048
    }
    public var lastBlock: Int { diskBlocks - 1 }
    /// The first block after the partition's last one (LBAs are inclusive in GPT).
    var firstUsable: Int { 2 + Self.entryArrayBlocks }
    var lastUsable: Int { lastBlock - Self.entryArrayBlocks - 1 }
    public var partitionEnd: Int { Self.partitionStart + partitionBlocks - 1 }

    /// The protective MBR (UEFI 2.10 §5.2.3, Table 5.4): one partition of type 0xEE covering the
    /// disk from LBA 1 (size clamped to 32 bits).
    public func protectiveMBR() -> [UInt8] {
        var block = [UInt8](repeating: 0, count: Self.blockSize)
        let entry = 446
        block[entry + 1] = 0x00; block[entry + 2] = 0x02; block[entry + 3] = 0x00  // starting CHS 0/0/2
        block[entry + 4] = 0xEE                                                     // GPT protective
        block[entry + 5] = 0xFF; block[entry + 6] = 0xFF; block[entry + 7] = 0xFF  // ending CHS: not representable
        block.storeLE(UInt32(1), at: entry + 8)
        block.storeLE(UInt32(clamping: diskBlocks - 1), at: entry + 12)
        block[510] = 0x55; block[511] = 0xAA
        return block
    }

    /// The partition entry array (§5.3.3): one used entry, the rest zero.
    public func entryArray() -> [UInt8] {
        var array = [UInt8](repeating: 0, count: Self.entryCount * Self.entrySize)
        array.replaceSubrange(0..<16, with: partitionType.bytes)
        array.replaceSubrange(16..<32, with: partitionGuid.bytes)
        array.storeLE(UInt64(Self.partitionStart), at: 32)
        array.storeLE(UInt64(partitionEnd), at: 40)
        array.storeLE(UInt64(0), at: 48)  // attributes
        for (i, unit) in partitionName.utf16.prefix(36).enumerated() { array.storeLE(unit, at: 56 + 2 * i) }
        return array
    }

    /// The primary (`backup == false`, LBA 1) or backup (last LBA) header (§5.3.2, Table 5.5).
    public func header(backup: Bool) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: Self.blockSize)
        block.replaceSubrange(0..<8, with: Array("EFI PART".utf8))
        block.storeLE(UInt32(0x0001_0000), at: 8)  // revision 1.0
        block.storeLE(UInt32(92), at: 12)          // header size
        block.storeLE(UInt64(backup ? lastBlock : 1), at: 24)      // MyLBA
        block.storeLE(UInt64(backup ? 1 : lastBlock), at: 32)      // AlternateLBA
        block.storeLE(UInt64(firstUsable), at: 40)
        block.storeLE(UInt64(lastUsable), at: 48)
        block.replaceSubrange(56..<72, with: diskGuid.bytes)
        block.storeLE(UInt64(backup ? lastUsable + 1 : 2), at: 72)  // PartitionEntryLBA
        block.storeLE(UInt32(Self.entryCount), at: 80)
        block.storeLE(UInt32(Self.entrySize), at: 84)
        block.storeLE(CRC32.checksum(entryArray()), at: 88)
        // HeaderCRC32 over the 92 header bytes with the field itself zero.
        block.storeLE(CRC32.checksum(Array(block[0..<92])), at: 16)
        return block
    }

    /// Byte offset of the partition in the image.
    public var partitionOffset: Int { Self.partitionStart * Self.blockSize }

    /// The table's pieces and their byte offsets in the image; everything else is zero or the
    /// partition's contents.
    public func tableBlocks() -> [(offset: Int, bytes: [UInt8])] {
        let entries = entryArray()
        return [(0, protectiveMBR()), (Self.blockSize, header(backup: false)), (2 * Self.blockSize, entries),
                ((lastUsable + 1) * Self.blockSize, entries), (lastBlock * Self.blockSize, header(backup: true))]
    }
}

extension Array where Element == UInt8 {
    /// Stores `value` little-endian at `offset` (UEFI's and FAT's on-disk byte order).
    mutating func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for i in 0..<(T.bitWidth / 8) { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    /// Loads a little-endian integer at `offset`.
    func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<(T.bitWidth / 8) { value |= T(self[offset + i]) << (8 * i) }
        return value
    }
}
