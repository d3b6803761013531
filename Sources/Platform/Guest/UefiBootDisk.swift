import Foundation

/// A GPT disk image whose EFI system partition boots an arm64 Linux kernel through UEFI
/// (EBBR 2.1 §4.2 "UEFI Boot at EL2/EL1", {AVPS-v2.0-1}, {AVPS-v2.0-2}): the firmware (edk2)
/// finds the removable-media boot program `\EFI\BOOT\BOOTAA64.EFI` (UEFI 2.10 §3.5.1.1) on
/// the ESP, which here is GRUB; GRUB reads `\AVP\GRUB.CFG` and starts `\AVP\IMAGE` (AVP's
/// arm64 kernel, an EFI-stub PE image) with `\AVP\INITRD` and the kernel command line. The
/// device tree is the firmware's: the EFI stub takes it from the EFI configuration table.
///
/// Why GRUB and not the kernel's EFI stub as BOOTAA64.EFI: the stub alone cannot get the
/// initrd from a removable-media boot. It finds an initrd only (1) through the LoadFile2
/// protocol on the LINUX_EFI_INITRD_MEDIA_GUID device path, which edk2 installs only for a
/// kernel QEMU loaded with `-kernel -initrd` (QemuKernelLoaderFsDxe), not for one on a disk,
/// or (2) from `initrd=` in its load options, which are empty when the boot manager starts
/// the removable-media path. With empty load options the stub keeps `/chosen/bootargs` of
/// the firmware's tree as the command line (Linux 6.12 drivers/firmware/efi/libstub/fdt.c
/// `update_fdt` sets bootargs only for a non-empty command line), so the command line could
/// come from the tree, but the initrd could not (a `Boot####` variable with load options
/// needs a persistent variable store, and the UEFI shell's startup.nsh a 5 s countdown).
/// GRUB is one cached EFI program (`scripts/grub-efi-arm64`: Debian's arm64-efi modules,
/// the host's grub-mkimage) and passes both: the command line as the stub's load options, the
/// initrd by loading it into memory and recording its place (`/chosen/linux,initrd-start`,
/// `-end`, GRUB 2.06 grub-core/loader/arm64/linux.c) in a copy of the firmware's tree that it
/// installs as the configuration table instead; the rest of AVP's tree reaches the kernel
/// unchanged (the real-guest test reads its model back from /proc/device-tree).
///
/// The FAT32 file system and the GPT are written by `Fat32Volume` and `GptDiskLayout`, so no
/// host partitioning or mtools are needed.
public struct UefiBootDisk: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        /// A kernel argument GRUB's script syntax cannot carry (a single quote, a newline).
        case unquotableArgument(String)
        case fileSystem(Fat32Volume.Failure)
        case io(String)

        public var description: String {
            switch self {
            case let .unquotableArgument(argument):
                return "kernel argument «\(argument)» cannot be written to GRUB's configuration (it may hold no ' and no newline)"
            case let .fileSystem(failure): return "EFI system partition: \(failure)"
            case let .io(why): return "UEFI boot disk: \(why)"
            }
        }
    }

    /// Paths on the ESP. The removable-media path for AArch64 (UEFI 2.10 §3.5.1.1, Table 3.5).
    public static let bootProgramPath = "EFI/BOOT/BOOTAA64.EFI"
    public static let kernelPath = "AVP/IMAGE"
    public static let initrdPath = "AVP/INITRD"
    public static let configurationPath = "AVP/GRUB.CFG"

    /// The EFI program the firmware starts (GRUB from `GrubEfiImage`).
    public var bootProgram: String
    /// The arm64 kernel `Image` (an EFI-stub PE image).
    public var kernel: String
    public var initrd: String
    public var kernelArguments: [String]

    public init(bootProgram: String, kernel: String, initrd: String, kernelArguments: [String]) {
        self.bootProgram = bootProgram
        self.kernel = kernel
        self.initrd = initrd
        self.kernelArguments = kernelArguments
    }

    /// GRUB's configuration: boot the kernel at once. Each argument is single-quoted unless it
    /// is plain, so GRUB expands nothing (`$`, `;`, spaces) in it.
    public static func grubConfiguration(kernelArguments: [String]) throws(Failure) -> String {
        var words: [String] = []
        let plain = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=,._/:+-@".utf8)
        for argument in kernelArguments {
            if argument.contains("'") || argument.contains(where: \.isNewline) { throw .unquotableArgument(argument) }
            words.append(!argument.isEmpty && argument.utf8.allSatisfy(plain.contains) ? argument : "'\(argument)'")
        }
        return """
            echo "AVP: booting /\(kernelPath)"
            linux /\(kernelPath) \(words.joined(separator: " "))
            initrd /\(initrdPath)
            boot

            """
    }

    /// The ESP's file system: the boot program, the kernel, the initrd and GRUB's configuration.
    public func volume() throws(Failure) -> Fat32Volume {
        var volume = Fat32Volume(label: "AVP-ESP")
        do {
            try volume.addFile(Self.bootProgramPath, contents: try read(bootProgram))
            try volume.addFile(Self.kernelPath, contents: try read(kernel))
            try volume.addFile(Self.initrdPath, contents: try read(initrd))
            try volume.addFile(Self.configurationPath, contents: Array(try Self.grubConfiguration(kernelArguments: kernelArguments).utf8))
        } catch let failure as Fat32Volume.Failure {
            throw .fileSystem(failure)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .io("\(error)")
        }
        return volume
    }

    /// Writes the disk image to `path` (replacing it): GPT, one ESP holding `volume()`.
    public func write(to path: String) throws(Failure) {
        let fileSystem = try volume().image(hiddenSectors: UInt32(GptDiskLayout.partitionStart))
        let layout: GptDiskLayout
        do {
            layout = GptDiskLayout(partitionBlocks: fileSystem.count / GptDiskLayout.blockSize,
                                   diskGuid: try Guid.random(), partitionGuid: try Guid.random())
        } catch {
            throw .io("getrandom: \(error)")
        }
        try Self.writeImage(layout: layout, partition: fileSystem, to: path)
    }

    /// Writes the table's blocks and the partition into a sparse file of the disk's size.
    static func writeImage(layout: GptDiskLayout, partition: [UInt8], to path: String) throws(Failure) {
        do {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.truncate(atOffset: 0)
            try handle.truncate(atOffset: UInt64(layout.diskBlocks * GptDiskLayout.blockSize))
            for (offset, bytes) in layout.tableBlocks() + [(layout.partitionOffset, partition)] {
                try handle.seek(toOffset: UInt64(offset))
                try handle.write(contentsOf: bytes)
            }
        } catch {
            throw .io("\(path): \(error)")
        }
    }

    private func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure.io("cannot read \(path)")
        }
        return [UInt8](data)
    }
}
