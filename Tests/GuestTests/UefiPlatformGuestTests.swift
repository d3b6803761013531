import Foundation
import Platform
import Testing

/// `boot: uefi` through `avp up`: the supervisor writes the VM's device tree and its boot disk
/// (GRUB, the kernel, this boot's initrd and command line) before QEMU starts edk2, which boots
/// the disk's EFI system partition and hands AVP's tree to the kernel.
@Suite(.serialized) struct UefiPlatformGuest {
    static let image = GuestImage.cached(.arm64)

    static let script = #"""
        echo "EFI=$(ls -d /sys/firmware/efi 2>/dev/null | wc -l) $(cat /sys/firmware/efi/fw_platform_size 2>/dev/null)"
        echo "MODEL=$(tr -d '\0' < /proc/device-tree/model)"
        echo "NAME=$(hostname)"
        echo "RNG=$(cat /sys/class/misc/hw_random/rng_current) $(head -c 64 /dev/hwrng | wc -c)"
        mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
        echo "VARS=$(ls /sys/firmware/efi/efivars 2>/dev/null | wc -l)"
        echo UEFI-PLATFORM-DONE
        """#

    @Test("AVPS-v2.0-1, AVPS-v2.0-2, AVPS-v2.0-3: avp up boots an aarch64 VM with 'boot: uefi' through edk2 from the EFI system partition AVP writes, with AVP's device tree and entropy server",
          .runningTimeLimit(minutes: 6))
    func platformUefiBoot() throws {
        try Self.image.ensureBuilt()
        _ = try QemuProcess.resolve("qemu-system-aarch64")
        try UefiBoot.checkFirmware(variables: .persistent(path: ""))
        let dir = try GuestHarness.workDirectory("uefi-platform")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.image.initrd(withScript: Self.script, at: dir + "/test.initrd")
        let yaml = """
            profile: development
            vms:
              - name: ecu
                arch: aarch64
                boot: uefi
                initrd: test.initrd
                cpus: 2
                memory: 512M
                devices:
                  - {type: entropy}
            """
        let platform = try RunningPlatform(name: "uefiplat", yaml: yaml, directory: dir)
        defer { platform.stop() }
        let state = dir + "/state/uefiplat"
        func serial() -> String { platform.serialLog("ecu") }
        let done = platform.wait(GuestHarness.guestTimeout * 2) { serial().contains("UEFI-PLATFORM-DONE") }
        let log = serial()
        #expect(done, "the guest did not finish:\n\(log)\n\(platform.upLog)")
        #expect(log.contains("EFI=1 64") && log.contains("MODEL=AVP virtual platform uefiplat/ecu (development)") && log.contains("NAME=ecu"), "\(log)")
        // edk2 drove AVP's entropy server for EFI_RNG_PROTOCOL, then Linux's virtio-rng did.
        #expect(log.contains("RNG=virtio_rng.0 64") && !log.contains("EFI_RNG_PROTOCOL unavailable"), "\(log)")
        #expect(!log.contains("VARS=0"), "no UEFI variables through runtime services:\n\(log)")
        #expect(FileManager.default.fileExists(atPath: state + "/vm-ecu.esp.img") && FileManager.default.fileExists(atPath: state + "/vm-ecu.vars.fd"))
    }
}
