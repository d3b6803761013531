import Foundation

/// Booting an aarch64 VM through UEFI (EBBR, {AVPS-v2.0-1}, {AVPS-v2.0-2}) instead of QEMU's
/// `-kernel`: edk2 (ArmVirtQemu, Debian's qemu-efi-aarch64) as the firmware, AVP's device tree
/// handed to it with `-dtb` (edk2 finds the tree QEMU puts at the base of RAM and installs it
/// as the EFI configuration table; `acpi=off` on the machine makes edk2 give the OS the tree
/// rather than ACPI tables), and a `UefiBootDisk` on virtio-blk (virtio-mmio) as the disk the
/// boot manager's removable-media path boots from.
///
/// The caller builds the rest of the QEMU command line as for a `-kernel` boot, minus
/// `-kernel`, `-initrd` and `-append` (with `-bios`, QEMU would otherwise hand the kernel to
/// edk2 through fw_cfg and edk2 would boot that instead of the disk). The devices added here
/// come after the VM's own, so they take the next lower virtio-mmio transports, which
/// `ArmVirtHardware`'s tree lists (all 32) with no AVP properties.
public enum UefiBoot {
    /// Debian's qemu-efi-aarch64: edk2's ArmVirtQemu build, 2 MiB, for `-bios`.
    public static let firmware = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"
    /// The same firmware for pflash (64 MiB), with the matching variable store template.
    public static let pflashCode = "/usr/share/AAVMF/AAVMF_CODE.fd"
    public static let pflashVariables = "/usr/share/AAVMF/AAVMF_VARS.fd"

    /// Where the firmware keeps UEFI variables.
    public enum VariableStore: Sendable, Equatable {
        /// `-bios`: edk2 emulates the variable store in RAM; every boot starts from defaults
        /// (no Boot#### survives a reset).
        case volatile
        /// pflash: the code read-only, the variables in this VM's own copy of the template
        /// (`preparePflashVariables`), so they survive reboots of the VM.
        case persistent(path: String)
    }

    /// The QEMU id of the ESP drive.
    public static let driveID = "avp-esp"

    /// Everything a UEFI boot adds to a QEMU command line, for hand-written lines and tests:
    /// `firmwareArguments`, `deviceArguments`, then the tree (`-dtb`, nil when the caller passes
    /// it already). Append it after the VM's own `-device`s (see `deviceArguments`).
    public static func qemuArguments(disk: String, deviceTree: String?, variables: VariableStore = .volatile,
                                     firmwareRNG: Bool = true) -> [String] {
        firmwareArguments(variables: variables) + deviceArguments(disk: disk, firmwareRNG: firmwareRNG)
            + (deviceTree.map { ["-dtb", $0] } ?? [])
    }

    /// The firmware: `-bios` (volatile variables) or the two pflash devices. In place of
    /// `-kernel`, `-initrd` and `-append`; anywhere on the command line.
    public static func firmwareArguments(variables: VariableStore = .volatile) -> [String] {
        switch variables {
        case .volatile:
            return ["-bios", firmware]
        case let .persistent(path):
            return ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=\(escaped(pflashCode))",
                    "-drive", "if=pflash,format=raw,unit=1,file=\(escaped(path))"]
        }
    }

    /// The ESP disk on virtio-blk (read-only: nothing on it is written at boot) and, when
    /// `firmwareRNG`, a virtio-rng device fed from the host's /dev/urandom for edk2's
    /// EFI_RNG_PROTOCOL (VirtioRngDxe; the EFI stub seeds KASLR and the kernel's RNG from it;
    /// a VM with an AVP entropy device can pass false: edk2 drives that one as well).
    /// These must come AFTER the VM's own `-device`s: virt gives the n-th virtio-mmio device
    /// transport 31 − n, and `ArmVirtHardware` numbers AVP's devices from the first.
    public static func deviceArguments(disk: String, firmwareRNG: Bool = true) -> [String] {
        var a = ["-drive", "if=none,id=\(driveID),format=raw,readonly=on,file=\(escaped(disk))",
                 "-device", "virtio-blk-device,drive=\(driveID)"]
        if firmwareRNG {
            a += ["-object", "rng-random,id=avp-efi-rng,filename=/dev/urandom", "-device", "virtio-rng-device,rng=avp-efi-rng"]
        }
        return a
    }

    /// What a launcher does before starting QEMU for a UEFI boot: writes the VM's boot disk
    /// (GRUB, `kernel`, `initrd`, `kernelArguments` — the same arguments `-append` would carry)
    /// to `disk`, and gives a VM with persistent variables its store.
    public static func prepare(kernel: String, initrd: String, kernelArguments: [String], disk: String,
                               variables: VariableStore = .volatile) throws {
        try checkFirmware(variables: variables)
        try writeDisk(kernel: kernel, initrd: initrd, kernelArguments: kernelArguments, to: disk)
        if case let .persistent(path) = variables { try preparePflashVariables(at: path) }
    }

    /// Copies the variable store template to `path` if the VM has none yet, sparsely: Debian's
    /// template is 64 MiB of zeros that edk2 formats on the first boot, so the copy costs no
    /// disk until the firmware writes variables.
    public static func preparePflashVariables(at path: String, template: String = pflashVariables) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let source = try FileHandle(forReadingFrom: URL(fileURLWithPath: template))
        defer { try? source.close() }
        let partial = path + ".partial"
        _ = FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600])
        let target = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
        var offset: UInt64 = 0
        while let chunk = try source.read(upToCount: 1 << 16), !chunk.isEmpty {
            if chunk.contains(where: { $0 != 0 }) {
                try target.seek(toOffset: offset)
                try target.write(contentsOf: chunk)
            }
            offset += UInt64(chunk.count)
        }
        try target.truncate(atOffset: offset)
        try target.close()
        try FileManager.default.moveItem(atPath: partial, toPath: path)
    }

    /// Throws with the fix when the firmware `variables` needs is missing.
    public static func checkFirmware(variables: VariableStore = .volatile) throws {
        let files = variables == .volatile ? [firmware] : [pflashCode, pflashVariables]
        for file in files where !FileManager.default.fileExists(atPath: file) {
            throw PlatformError.missingFile(file, fix: "install qemu-efi-aarch64 (scripts/host-setup)")
        }
    }

    /// Writes the boot disk for `image` (with the test script layer already in `initrd`) to
    /// `path`, building GRUB first if needed (`GrubEfiImage.ensureBuilt`).
    public static func writeDisk(kernel: String, initrd: String, kernelArguments: [String], to path: String) throws {
        let disk = UefiBootDisk(bootProgram: try GrubEfiImage.ensureBuilt(), kernel: kernel, initrd: initrd,
                                kernelArguments: kernelArguments)
        try disk.write(to: path)
    }

    /// QEMU's -drive/-device option syntax doubles commas inside values.
    static func escaped(_ path: String) -> String { path.replacingOccurrences(of: ",", with: ",,") }
}
