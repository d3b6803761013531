import Devices
import Foundation
@testable import Platform
import Testing

/// The UEFI boot disk's GPT (UEFI 2.10 §5.3), its FAT32 ESP (FAT spec 1.03) and GRUB's
/// configuration, read back by the small readers below; the real-guest test
/// (UefiBootGuestTests) proves edk2 and GRUB read the same disks.
@Suite struct UefiBootDiskTests {
    @Test func guidsUseUEFIsMixedEndianLayout() throws {
        let esp = GptDiskLayout.efiSystemPartitionType
        #expect(esp.bytes == [0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B])
        #expect(esp.description == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
        #expect(Guid("C12A7328-F81F-11D2-BA4B-00A0C93EC93") == nil)
        #expect(Guid("G12A7328-F81F-11D2-BA4B-00A0C93EC93B") == nil)
        let random = try Guid.random()
        #expect(Guid(random.description) == random)
        #expect(random.bytes[7] >> 4 == 4)
    }

    @Test func gptHeadersAndEntriesCarryValidChecksums() throws {
        let layout = GptDiskLayout(partitionBlocks: 70_000, diskGuid: try Guid.random(), partitionGuid: try Guid.random())
        #expect(layout.diskBlocks % 2048 == 0)
        #expect(layout.diskBlocks >= 2048 + 70_000 + 33)
        let mbr = layout.protectiveMBR()
        #expect(mbr[446 + 4] == 0xEE && mbr[510] == 0x55 && mbr[511] == 0xAA)
        #expect(mbr.loadLE(UInt32.self, at: 446 + 8) == 1)
        #expect(mbr.loadLE(UInt32.self, at: 446 + 12) == UInt32(layout.diskBlocks - 1))

        let entries = layout.entryArray()
        #expect(Array(entries[0..<16]) == GptDiskLayout.efiSystemPartitionType.bytes)
        #expect(entries.loadLE(UInt64.self, at: 32) == 2048)
        #expect(entries.loadLE(UInt64.self, at: 40) == UInt64(2048 + 70_000 - 1))
        for backup in [false, true] {
            var header = layout.header(backup: backup)
            #expect(Array(header[0..<8]) == Array("EFI PART".utf8))
            let crc = header.loadLE(UInt32.self, at: 16)
            header.storeLE(UInt32(0), at: 16)
            #expect(CRC32.checksum(Array(header[0..<92])) == crc)
            #expect(header.loadLE(UInt32.self, at: 88) == CRC32.checksum(entries))
            #expect(header.loadLE(UInt64.self, at: 24) == UInt64(backup ? layout.diskBlocks - 1 : 1))
            #expect(header.loadLE(UInt64.self, at: 32) == UInt64(backup ? 1 : layout.diskBlocks - 1))
            #expect(header.loadLE(UInt64.self, at: 72) == UInt64(backup ? layout.diskBlocks - 33 : 2))
            // The partition lies within the usable blocks.
            #expect(header.loadLE(UInt64.self, at: 40) <= 2048)
            #expect(header.loadLE(UInt64.self, at: 48) >= UInt64(layout.partitionEnd))
        }
    }

    @Test func fatShortNamesAreUpperCaseEightDotThree() {
        #expect(Fat32Volume.shortName("BOOTAA64.EFI") == Array("BOOTAA64EFI".utf8))
        #expect(Fat32Volume.shortName("AVP") == Array("AVP        ".utf8))
        for bad in ["bootaa64.efi", "TOOLONGNAME", "A.B.C", "NAME.LONG", "", ".EFI", "A B", "X."] {
            #expect(Fat32Volume.shortName(bad) == nil, "\(bad)")
        }
        var volume = Fat32Volume()
        #expect(throws: Fat32Volume.Failure.invalidName("EFI/boot/x")) { try volume.addFile("EFI/boot/x", contents: []) }
        #expect(throws: Never.self) { try volume.addFile("EFI/BOOT", contents: [1]) }
        #expect(throws: Fat32Volume.Failure.conflict("EFI/BOOT")) { try volume.addFile("EFI/BOOT/X", contents: []) }
        #expect(throws: Fat32Volume.Failure.conflict("EFI/BOOT")) { try volume.addFile("EFI/BOOT", contents: []) }
    }

    @Test func fatVolumeReadsBackEveryFile() throws {
        var volume = Fat32Volume()
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try volume.addFile("EFI/BOOT/BOOTAA64.EFI", contents: Array("grub".utf8))
        try volume.addFile("AVP/IMAGE", contents: big)
        try volume.addFile("AVP/EMPTY", contents: [])
        try volume.addFile("AVP/GRUB.CFG", contents: Array("boot\n".utf8))
        // Enough children that a directory needs more than one cluster (16 entries each).
        for i in 0..<20 { try volume.addFile("MANY/F\(i)", contents: [UInt8(i)]) }
        let image = volume.image(hiddenSectors: 2048)
        let fat = try FatReader(image)
        #expect(fat.clusterCount >= 65_525)  // FAT32 by the FAT spec's count-of-clusters rule
        #expect(image.loadLE(UInt32.self, at: 28) == 2048)
        #expect(Array(image[82..<90]) == Array("FAT32   ".utf8))
        #expect(Array(image[510..<512]) == [0x55, 0xAA])
        #expect(Array(image[6 * 512..<7 * 512]) == Array(image[0..<512]))  // backup boot sector
        #expect(try fat.read("EFI/BOOT/BOOTAA64.EFI") == Array("grub".utf8))
        #expect(try fat.read("AVP/IMAGE") == big)
        #expect(try fat.read("AVP/EMPTY") == [])
        #expect(try fat.read("AVP/GRUB.CFG") == Array("boot\n".utf8))
        for i in 0..<20 { #expect(try fat.read("MANY/F\(i)") == [UInt8(i)]) }
        #expect(try fat.listing("") == ["AVP", "EFI", "MANY"])
        #expect(try fat.listing("EFI/BOOT") == [".", "..", "BOOTAA64.EFI"])
        // The same inputs give the same bytes.
        #expect(volume.image(hiddenSectors: 2048) == image)
    }

    @Test func grubConfigurationQuotesWhatGrubWouldExpand() throws {
        let text = try UefiBootDisk.grubConfiguration(kernelArguments: ["console=ttyAMA0", "panic=-1", "avp.x=$HOME", "a b", ""])
        #expect(text.contains("linux /AVP/IMAGE console=ttyAMA0 panic=-1 'avp.x=$HOME' 'a b' ''\n"))
        #expect(text.contains("initrd /AVP/INITRD\nboot\n"))
        #expect(throws: UefiBootDisk.Failure.self) { try UefiBootDisk.grubConfiguration(kernelArguments: ["it's"]) }
        #expect(throws: UefiBootDisk.Failure.self) { try UefiBootDisk.grubConfiguration(kernelArguments: ["a\nboot"]) }
    }

    @Test func diskImageHoldsTheESPAtItsGPTEntry() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-uefi-disk-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, text) in [("grub", "GRUB"), ("Image", "KERNEL"), ("initrd", "INITRD")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        let disk = UefiBootDisk(bootProgram: dir + "/grub", kernel: dir + "/Image", initrd: dir + "/initrd",
                                kernelArguments: ["console=ttyAMA0"])
        try disk.write(to: dir + "/disk.img")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/disk.img")))
        #expect(bytes.count % (1 << 20) == 0)
        let header = Array(bytes[512..<1024])
        #expect(Array(header[0..<8]) == Array("EFI PART".utf8))
        #expect(Array(bytes[bytes.count - 512..<bytes.count - 504]) == Array("EFI PART".utf8))
        let entryLBA = Int(header.loadLE(UInt64.self, at: 72))
        let entries = Array(bytes[entryLBA * 512..<(entryLBA + 32) * 512])
        #expect(Array(entries[0..<16]) == GptDiskLayout.efiSystemPartitionType.bytes)
        let start = Int(entries.loadLE(UInt64.self, at: 32)), end = Int(entries.loadLE(UInt64.self, at: 40))
        let fat = try FatReader(Array(bytes[start * 512..<(end + 1) * 512]))
        #expect(try fat.read("EFI/BOOT/BOOTAA64.EFI") == Array("GRUB".utf8))
        #expect(try fat.read("AVP/IMAGE") == Array("KERNEL".utf8))
        #expect(try fat.read("AVP/INITRD") == Array("INITRD".utf8))
        let configuration = String(decoding: try fat.read("AVP/GRUB.CFG"), as: UTF8.self)
        #expect(configuration.contains("linux /AVP/IMAGE console=ttyAMA0\n"))
    }

    @Test func pflashVariablesAreASparseCopyMadeOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-uefi-vars-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var template = [UInt8](repeating: 0, count: 1 << 20)
        template[70_000] = 0x5A
        template[(1 << 20) - 1] = 0xA5
        try Data(template).write(to: URL(fileURLWithPath: dir + "/template.fd"))
        try UefiBoot.preparePflashVariables(at: dir + "/vars.fd", template: dir + "/template.fd")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/vars.fd"))) == template)
        // A VM's existing store is kept.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/vars.fd"))
        try UefiBoot.preparePflashVariables(at: dir + "/vars.fd", template: dir + "/template.fd")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/vars.fd"))) == [1, 2, 3])
    }

    @Test func qemuArgumentsBootTheDiskThroughEdk2() {
        let a = UefiBoot.qemuArguments(disk: "/run/a,b/esp.img", deviceTree: "/run/vm.dtb")
        #expect(Array(a[0..<2]) == ["-bios", UefiBoot.firmware])
        #expect(a.contains("if=none,id=avp-esp,format=raw,readonly=on,file=/run/a,,b/esp.img"))
        #expect(a.contains("virtio-blk-device,drive=avp-esp"))
        #expect(a.contains("virtio-rng-device,rng=avp-efi-rng"))
        #expect(Array(a.suffix(2)) == ["-dtb", "/run/vm.dtb"])
        #expect(!a.contains("-kernel") && !a.contains("-append"))
        let pflash = UefiBoot.qemuArguments(disk: "d", deviceTree: nil, variables: .persistent(path: "/v/vars.fd"), firmwareRNG: false)
        #expect(!pflash.contains("-bios") && !pflash.contains("-dtb"))
        #expect(pflash.contains("if=pflash,format=raw,unit=1,file=/v/vars.fd"))
        #expect(!pflash.contains { $0.contains("rng") })
    }
}

/// A minimal FAT32 reader for the tests: short names, following cluster chains in the FAT.
struct FatReader {
    struct Failure: Error, CustomStringConvertible { var description: String }
    let image: [UInt8]
    let reservedSectors: Int, fatSectors: Int, sectorsPerCluster: Int, rootCluster: Int, clusterCount: Int

    init(_ image: [UInt8]) throws {
        self.image = image
        guard image.loadLE(UInt16.self, at: 11) == 512 else { throw Failure(description: "sector size") }
        sectorsPerCluster = Int(image[13])
        reservedSectors = Int(image.loadLE(UInt16.self, at: 14))
        fatSectors = Int(image.loadLE(UInt32.self, at: 36))
        rootCluster = Int(image.loadLE(UInt32.self, at: 44))
        let total = Int(image.loadLE(UInt32.self, at: 32))
        guard total * 512 <= image.count else { throw Failure(description: "volume larger than its image") }
        clusterCount = (total - reservedSectors - Int(image[16]) * fatSectors) / sectorsPerCluster
    }

    var dataStart: Int { (reservedSectors + 2 * fatSectors) * 512 }

    func chain(from first: Int) throws -> [Int] {
        var clusters: [Int] = []
        var cluster = first
        while cluster >= 2, cluster < 0x0FFF_FFF8 {
            clusters.append(cluster)
            guard clusters.count <= clusterCount else { throw Failure(description: "FAT loop") }
            cluster = Int(image.loadLE(UInt32.self, at: reservedSectors * 512 + cluster * 4) & 0x0FFF_FFFF)
        }
        return clusters
    }

    func contents(from first: Int) throws -> [UInt8] {
        try chain(from: first).flatMap { cluster -> [UInt8] in
            let offset = dataStart + (cluster - 2) * sectorsPerCluster * 512
            return Array(image[offset..<offset + sectorsPerCluster * 512])
        }
    }

    /// (name, attributes, first cluster, size) of each entry of the directory at `cluster`.
    func entries(_ cluster: Int) throws -> [(name: String, attributes: UInt8, cluster: Int, size: Int)] {
        let bytes = try contents(from: cluster)
        var result: [(String, UInt8, Int, Int)] = []
        for offset in stride(from: 0, to: bytes.count, by: 32) where bytes[offset] != 0 && bytes[offset] != 0xE5 {
            let entry = Array(bytes[offset..<offset + 32])
            if entry[11] & 0x08 != 0 { continue }  // the volume label
            let base = String(decoding: entry[0..<8], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let ext = String(decoding: entry[8..<11], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let first = Int(entry.loadLE(UInt16.self, at: 20)) << 16 | Int(entry.loadLE(UInt16.self, at: 26))
            result.append((ext.isEmpty ? base : base + "." + ext, entry[11], first, Int(entry.loadLE(UInt32.self, at: 28))))
        }
        return result
    }

    func lookup(_ path: String) throws -> (attributes: UInt8, cluster: Int, size: Int) {
        var current: (attributes: UInt8, cluster: Int, size: Int) = (0x10, rootCluster, 0)
        for component in path.split(separator: "/") {
            guard let entry = try entries(current.cluster).first(where: { $0.name == component }) else {
                throw Failure(description: "\(path): no \(component)")
            }
            current = (entry.attributes, entry.cluster, entry.size)
        }
        return current
    }

    func read(_ path: String) throws -> [UInt8] {
        let entry = try lookup(path)
        return Array(try contents(from: entry.cluster).prefix(entry.size))
    }

    func listing(_ path: String) throws -> [String] {
        try entries(lookup(path).cluster).map(\.name)
    }
}
