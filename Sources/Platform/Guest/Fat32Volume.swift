/// A FAT32 file system image built in memory: the format of an EFI system partition (UEFI 2.10
/// §13.3.1.1 "EFI System Partition": FAT32 on fixed media, per Microsoft's "FAT: General
/// Overview of On-Disk Format" 1.03, the "FAT spec" below).
///
/// Deliberately small: short (8.3, upper-case) names only — every name an ESP for AVP needs
/// fits (`EFI/BOOT/BOOTAA64.EFI`, `AVP/IMAGE`) and edk2's FAT driver and GRUB compare short
/// names case-insensitively — one sector per cluster, every file contiguous, fixed timestamps
/// (the same inputs give the same image). At least 65 600 clusters, so by the FAT spec's
/// rule (§3.5: FAT32 iff 65 525 clusters or more) every reader takes it for FAT32.
public struct Fat32Volume: Sendable {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// A path component that is not a valid upper-case 8.3 short name.
        case invalidName(String)
        /// A path used both as a file and as a directory, or a file added twice.
        case conflict(String)
        /// A file over FAT32's 4 GiB − 1 limit.
        case tooLarge(String)

        public var description: String {
            switch self {
            case let .invalidName(path): return "\(path): not an upper-case 8.3 FAT short name"
            case let .conflict(path): return "\(path): added twice, or both a file and a directory"
            case let .tooLarge(path): return "\(path): larger than FAT32's 4 GiB limit"
            }
        }
    }

    public static let sectorSize = 512
    static let reservedSectors = 32
    static let fatCount = 2
    /// Fewest clusters written, with a margin over the FAT32 threshold of 65 525.
    static let minimumClusters = 65_600
    static let endOfChain: UInt32 = 0x0FFF_FFFF
    /// 2025-01-01 00:00:00 in FAT's date and time encoding (FAT spec §6.1).
    static let fixedDate: UInt16 = (2025 - 1980) << 9 | 1 << 5 | 1

    /// Regular files by path (components joined with "/", no leading slash).
    private var files: [String: [UInt8]] = [:]
    /// Every directory, "" the root.
    private var directories: Set<String> = [""]
    public var label: String
    public var volumeID: UInt32

    /// `label`: up to 11 characters of the 8.3 character set, padded with spaces.
    public init(label: String = "AVP-ESP", volumeID: UInt32 = 0x4156_5001) {
        self.label = label
        self.volumeID = volumeID
    }

    /// Adds `contents` at `path` ("EFI/BOOT/BOOTAA64.EFI"), creating its directories.
    public mutating func addFile(_ path: String, contents: [UInt8]) throws(Failure) {
        let components = path.split(separator: "/").map(String.init)
        guard !components.isEmpty, components.allSatisfy({ Self.shortName($0) != nil }) else { throw .invalidName(path) }
        guard contents.count <= Int(UInt32.max) else { throw .tooLarge(path) }
        let key = components.joined(separator: "/")
        guard files[key] == nil, !directories.contains(key) else { throw .conflict(path) }
        var parent = ""
        for component in components.dropLast() {
            parent = parent.isEmpty ? component : parent + "/" + component
            guard files[parent] == nil else { throw .conflict(parent) }
            directories.insert(parent)
        }
        files[key] = contents
    }

    /// The 11-byte directory-entry name of `name` (FAT spec §6.1), nil if it is not a valid
    /// upper-case 8.3 name.
    static func shortName(_ name: String) -> [UInt8]? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let base = parts.first, (1...8).contains(base.count) else { return nil }
        let ext = parts.count == 2 ? parts[1] : ""
        guard ext.count <= 3, parts.count == 1 || !ext.isEmpty else { return nil }
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()-@^_`{}~".utf8)
        let bytes = Array(base.utf8) + Array(ext.utf8)
        guard bytes.allSatisfy(allowed.contains) else { return nil }
        return Array(base.utf8) + [UInt8](repeating: 0x20, count: 8 - base.utf8.count)
            + Array(ext.utf8) + [UInt8](repeating: 0x20, count: 3 - ext.utf8.count)
    }

    /// The children of `directory`, sorted by name.
    private func children(of directory: String) -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        return (Array(files.keys) + directories.filter { !$0.isEmpty })
            .filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") && $0 != directory }
            .sorted()
    }

    private static func clusters(forBytes count: Int) -> Int { (count + sectorSize - 1) / sectorSize }

    /// Where each file and directory lives: its first cluster and cluster count.
    private func allocation() -> (first: [String: Int], count: [String: Int], used: Int) {
        var first: [String: Int] = [:]
        var count: [String: Int] = [:]
        var next = 2
        // The root first (cluster 2, the FAT spec's usual BPB_RootClus), then everything by path.
        for path in [""] + (directories.filter { !$0.isEmpty } + files.keys).sorted() {
            let n: Int
            if let contents = files[path] {
                n = Self.clusters(forBytes: contents.count)
            } else {
                // ".", ".." (not in the root) or the volume label (root), then one entry per child.
                let entries = 1 + (path.isEmpty ? 0 : 1) + children(of: path).count
                n = max(1, Self.clusters(forBytes: entries * 32))
            }
            first[path] = n == 0 ? 0 : next
            count[path] = n
            next += n
        }
        return (first, count, next - 2)
    }

    /// The geometry for `usedClusters` clusters of contents.
    static func geometry(usedClusters: Int) -> (clusters: Int, fatSectors: Int, totalSectors: Int) {
        let clusters = max(minimumClusters, usedClusters + 64)
        let fatSectors = ((clusters + 2) * 4 + sectorSize - 1) / sectorSize
        return (clusters, fatSectors, reservedSectors + fatCount * fatSectors + clusters)
    }

    /// The volume's bytes; `hiddenSectors` is the partition's first LBA (BPB_HiddSec).
    public func image(hiddenSectors: UInt32 = 0) -> [UInt8] {
        let (first, count, used) = allocation()
        let (clusters, fatSectors, totalSectors) = Self.geometry(usedClusters: used)
        var image = [UInt8](repeating: 0, count: totalSectors * Self.sectorSize)
        let boot = bootSector(totalSectors: totalSectors, fatSectors: fatSectors, hiddenSectors: hiddenSectors)
        let info = fsInfo(freeClusters: clusters - used, nextFree: 2 + used)
        for base in [0, 6] {  // BPB_BkBootSec = 6 (FAT spec §3.1)
            image.replaceSubrange(base * Self.sectorSize..<(base + 1) * Self.sectorSize, with: boot)
            image.replaceSubrange((base + 1) * Self.sectorSize..<(base + 2) * Self.sectorSize, with: info)
        }

        // The FAT (FAT spec §4): entries 0 and 1 reserved, then each object's chain.
        var fat = [UInt8](repeating: 0, count: fatSectors * Self.sectorSize)
        fat.storeLE(UInt32(0x0FFF_FFF8), at: 0)
        fat.storeLE(Self.endOfChain, at: 4)
        for (path, start) in first where start != 0 {
            let n = count[path]!
            for cluster in start..<(start + n) {
                fat.storeLE(cluster == start + n - 1 ? Self.endOfChain : UInt32(cluster + 1), at: cluster * 4)
            }
        }
        for copy in 0..<Self.fatCount {
            let offset = (Self.reservedSectors + copy * fatSectors) * Self.sectorSize
            image.replaceSubrange(offset..<offset + fat.count, with: fat)
        }

        let dataOffset = (Self.reservedSectors + Self.fatCount * fatSectors) * Self.sectorSize
        func offset(of cluster: Int) -> Int { dataOffset + (cluster - 2) * Self.sectorSize }
        for (path, contents) in files where !contents.isEmpty {
            let start = offset(of: first[path]!)
            image.replaceSubrange(start..<start + contents.count, with: contents)
        }
        for directory in directories {
            var entries: [[UInt8]] = []
            if directory.isEmpty {
                entries.append(Self.entry(name: Self.labelBytes(label), attributes: 0x08, cluster: 0, size: 0))
            } else {
                let parent = directory.split(separator: "/").dropLast().joined(separator: "/")
                entries.append(Self.entry(name: Array(".          ".utf8), attributes: 0x10, cluster: first[directory]!, size: 0))
                // ".." of a directory in the root names cluster 0 (FAT spec §6.7).
                entries.append(Self.entry(name: Array("..         ".utf8), attributes: 0x10, cluster: parent.isEmpty ? 0 : first[parent]!, size: 0))
            }
            for child in children(of: directory) {
                let name = Self.shortName(String(child.split(separator: "/").last!))!
                if let contents = files[child] {
                    entries.append(Self.entry(name: name, attributes: 0x20, cluster: first[child]!, size: UInt32(contents.count)))
                } else {
                    entries.append(Self.entry(name: name, attributes: 0x10, cluster: first[child]!, size: 0))
                }
            }
            let start = offset(of: first[directory]!)
            let bytes = entries.flatMap { $0 }
            image.replaceSubrange(start..<start + bytes.count, with: bytes)
        }
        return image
    }

    static func labelBytes(_ label: String) -> [UInt8] {
        let bytes = Array(label.uppercased().utf8.prefix(11))
        return bytes + [UInt8](repeating: 0x20, count: 11 - bytes.count)
    }

    /// A 32-byte directory entry (FAT spec §6, Table 8).
    static func entry(name: [UInt8], attributes: UInt8, cluster: Int, size: UInt32) -> [UInt8] {
        var entry = [UInt8](repeating: 0, count: 32)
        entry.replaceSubrange(0..<11, with: name)
        entry[11] = attributes
        entry.storeLE(fixedDate, at: 16)                          // DIR_CrtDate
        entry.storeLE(fixedDate, at: 18)                          // DIR_LstAccDate
        entry.storeLE(UInt16(truncatingIfNeeded: cluster >> 16), at: 20)
        entry.storeLE(fixedDate, at: 24)                          // DIR_WrtDate
        entry.storeLE(UInt16(truncatingIfNeeded: cluster), at: 26)
        entry.storeLE(size, at: 28)
        return entry
    }

    /// The boot sector with the FAT32 BPB (FAT spec §3.1 and §3.3).
    func bootSector(totalSectors: Int, fatSectors: Int, hiddenSectors: UInt32) -> [UInt8] {
        var sector = [UInt8](repeating: 0, count: Self.sectorSize)
        sector[0] = 0xEB; sector[1] = 0x58; sector[2] = 0x90        // BS_jmpBoot
        sector.replaceSubrange(3..<11, with: Array("AVP     ".utf8))  // BS_OEMName
        sector.storeLE(UInt16(Self.sectorSize), at: 11)
        sector[13] = 1                                               // BPB_SecPerClus
        sector.storeLE(UInt16(Self.reservedSectors), at: 14)
        sector[16] = UInt8(Self.fatCount)
        sector[21] = 0xF8                                            // BPB_Media: fixed
        sector.storeLE(UInt16(63), at: 24)                           // BPB_SecPerTrk
        sector.storeLE(UInt16(255), at: 26)                          // BPB_NumHeads
        sector.storeLE(hiddenSectors, at: 28)
        sector.storeLE(UInt32(totalSectors), at: 32)                 // BPB_TotSec32
        sector.storeLE(UInt32(fatSectors), at: 36)                   // BPB_FATSz32
        sector.storeLE(UInt32(2), at: 44)                            // BPB_RootClus
        sector.storeLE(UInt16(1), at: 48)                            // BPB_FSInfo
        sector.storeLE(UInt16(6), at: 50)                            // BPB_BkBootSec
        sector[64] = 0x80                                            // BS_DrvNum
        sector[66] = 0x29                                            // BS_BootSig
        sector.storeLE(volumeID, at: 67)
        sector.replaceSubrange(71..<82, with: Self.labelBytes(label))
        sector.replaceSubrange(82..<90, with: Array("FAT32   ".utf8))
        sector[510] = 0x55; sector[511] = 0xAA
        return sector
    }

    /// The FSInfo sector (FAT spec §5).
    func fsInfo(freeClusters: Int, nextFree: Int) -> [UInt8] {
        var sector = [UInt8](repeating: 0, count: Self.sectorSize)
        sector.storeLE(UInt32(0x4161_5252), at: 0)
        sector.storeLE(UInt32(0x6141_7272), at: 484)
        sector.storeLE(UInt32(freeClusters), at: 488)
        sector.storeLE(UInt32(nextFree), at: 492)
        sector.storeLE(UInt32(0xAA55_0000), at: 508)
        return sector
    }
}
