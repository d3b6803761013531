import Foundation
import Platform
import Testing

/// EBBR boot of a real arm64 guest: edk2 (Debian's qemu-efi-aarch64) on qemu-system-aarch64
/// `-M virt` (TCG here), booting from a GPT disk image whose EFI system partition holds GRUB
/// as `\EFI\BOOT\BOOTAA64.EFI`, AVP's arm64 kernel and the test initrd (`UefiBootDisk`), with
/// AVP's device tree (`ArmVirtHardware`) given to QEMU with `-dtb` and handed to the kernel
/// by the firmware through the EFI configuration table.
@Suite(.serialized) struct UefiBootInRealGuest {
    static let qemu = "qemu-system-aarch64"
    /// edk2 under TCG adds ~10 s to the boot; two cores shared with a build add more.
    static let timeout: Double = 300

    static let platform = """
        name: uefi
        profile: development
        vms:
          - name: ecu
            arch: aarch64
            kernel: vmlinuz
            initrd: initrd
            cpus: 2
            memory: 512M
        """

    /// What the guest checks: booted through UEFI, with AVP's tree, with this command line.
    static let script = """
        echo "efi-dir=$([ -d /sys/firmware/efi ] && echo yes || echo no)"
        [ -d /sys/firmware/efi ] || { echo "FAIL: not booted through UEFI"; exit 10; }
        echo "efi-platform-size=$(cat /sys/firmware/efi/fw_platform_size)"
        echo "uefi-system-table=$([ -e /proc/device-tree/chosen/linux,uefi-system-table ] && echo yes || echo no)"
        model=$(tr -d '\\000' < /proc/device-tree/model)
        echo "dt-model=$model"
        echo "dt-compatible=$(tr '\\000' ' ' < /proc/device-tree/compatible)"
        case "$model" in "AVP virtual platform uefi/ecu"*) ;; *) echo "FAIL: not AVP's device tree"; exit 11 ;; esac
        echo "cmdline=$(cat /proc/cmdline)"
        grep -q 'avp.boot=uefi' /proc/cmdline || { echo "FAIL: GRUB's command line did not arrive"; exit 12; }
        echo "efi-sysfs=$(ls /sys/firmware/efi | tr '\\n' ' ')"
        dmesg | grep -iE 'efi|Machine model|rtc|random' | sed 's/^/dmesg: /'
        if grep -q efivarfs /proc/filesystems && mount -t efivarfs none /sys/firmware/efi/efivars; then
            echo "efivars=$(ls /sys/firmware/efi/efivars | wc -l)"
            ls /sys/firmware/efi/efivars | sed 's/^/efivar: /'
        else
            echo "efivars=unavailable"
        fi
        echo "acpi=$([ -d /sys/firmware/acpi ] && echo yes || echo no)"
        echo "virtio-devices=$(ls /sys/bus/virtio/devices | tr '\\n' ' ')"
        """

    /// One UEFI boot in `dir`: AVP's tree for the VM (written afresh), an initrd with `script`,
    /// the ESP disk, edk2 with `variables`; returns the console and the seconds to the exit
    /// marker. QEMU is stopped before it returns.
    /// `platformFile` describes the VM (its tree), `devices` are its QEMU devices (before the
    /// UEFI ones, as `UefiBoot.deviceArguments` requires); `firmwareRNG` as there.
    func boot(in dir: String, name: String, script: String, variables: UefiBoot.VariableStore = .volatile,
              platformFile: String = Self.platform, devices: [String] = [], firmwareRNG: Bool = true) throws -> (ConsoleLog, Double) {
        let image = GuestImage.cached(.arm64)
        try image.ensureBuilt()
        let qemuPath = try QemuProcess.resolve(Self.qemu)

        // AVP's device tree for an aarch64 VM, as `avp up` writes it.
        let loaded = PlatformLoader.load(yaml: platformFile, path: dir + "/platform.yaml", checkingFiles: false)
        let platform = try #require(loaded.platform, "\(loaded.diagnostics)")
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil)
        try Data(FlattenedDeviceTree.encode(tree)).write(to: URL(fileURLWithPath: dir + "/avp.dtb"))

        try image.initrd(withScript: script, at: dir + "/initrd-\(name)")
        try UefiBoot.prepare(kernel: image.kernel, initrd: dir + "/initrd-\(name)",
                             kernelArguments: ["console=ttyAMA0", "panic=-1", "loglevel=4", "avp.boot=uefi"],
                             disk: dir + "/esp-\(name).img", variables: variables)

        let console = ConsoleLog(path: dir + "/console-\(name).log")
        let qemu = Process()
        qemu.executableURL = URL(fileURLWithPath: qemuPath)
        qemu.arguments = ["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                          "-machine", "virt,gic-version=3,acpi=off,memory-backend=mem", "-cpu", "max", "-smp", "2", "-m", "512M",
                          "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-global", "virtio-mmio.force-legacy=false",
                          "-serial", "file:" + console.path]
            + devices
            + UefiBoot.qemuArguments(disk: dir + "/esp-\(name).img", deviceTree: dir + "/avp.dtb", variables: variables,
                                     firmwareRNG: firmwareRNG)
        qemu.standardInput = FileHandle.nullDevice
        qemu.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        qemu.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let started = Date()
        try qemu.run()
        defer { GuestHarness.stop(qemu) }
        let finished = console.waitFor(GuestImage.exitMarker, timeoutSeconds: Self.timeout) { qemu.isRunning }
        _ = console.waitFor("reboot: Power down", timeoutSeconds: 20) { qemu.isRunning }
        let seconds = Date().timeIntervalSince(started)
        GuestHarness.stop(qemu)
        print("UEFI boot \(name) to AVP-TEST-EXIT in \(String(format: "%.1f", seconds)) s; console:\n\(console.text.suffix(4000))")
        #expect(finished, "guest timed out; console:\n\(console.text.suffix(3000))")
        return (console, seconds)
    }

    @Test("AVPS-v2.0-1, AVPS-v2.0-2 (EBBR), AVPS-v2.0-3: an arm64 VM boots through edk2 from a GPT disk's EFI system partition with AVP's device tree from the firmware")
    func bootsThroughUefiFromTheESP() throws {
        let dir = try GuestHarness.workDirectory("uefi")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (console, _) = try boot(in: dir, name: "checks", script: Self.script)
        let text = console.text
        #expect(console.testExitStatus == 0, "console:\n\(text.suffix(3000))")
        // The firmware started GRUB from the removable-media path, GRUB the kernel's EFI stub,
        // and the stub took the tree from the configuration table.
        #expect(text.contains("starting Boot"), "edk2's boot manager line")
        #expect(text.contains("AVP: GRUB loaded from hd0,gpt1"))
        #expect(text.contains("EFI stub: Using DTB from configuration table"))
        #expect(!text.contains("EFI_RNG_PROTOCOL unavailable"), "edk2's VirtioRngDxe gives the stub EFI_RNG_PROTOCOL")
        #expect(console.value("efi-dir") == "yes")
        #expect(console.value("efi-platform-size") == "64")
        #expect(console.value("uefi-system-table") == "yes")
        #expect(console.value("dt-model")?.hasPrefix("AVP virtual platform uefi/ecu") == true)
        #expect(console.value("acpi") == "no")
        // Runtime services: the kernel enabled them and reads the firmware's variables through them.
        #expect(text.contains("Remapping and enabling EFI services"))
        #expect((Int(console.value("efivars") ?? "") ?? 0) > 0, "GetVariable/GetNextVariableName at runtime")
        // The stub's random seed table (LINUX_EFI_RANDOM_SEED_TABLE), filled from EFI_RNG_PROTOCOL.
        #expect(text.contains("RNG=0x"))
    }

    /// A variable the guest sets through efivarfs (SetVariable at runtime, attributes
    /// NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS).
    static let variable = "AvpUefiTest-6a1f3c52-8e0d-4b7a-9c21-5d3e8f0a4b17"
    static let mountVariables = """
        grep -q efivarfs /proc/filesystems || { echo "FAIL: no efivarfs"; exit 20; }
        mount -t efivarfs none /sys/firmware/efi/efivars || exit 21

        """

    @Test("AVPS-v2.0-2 (EBBR variable store): with pflash a VM's UEFI variables survive its reboot; with -bios they do not",
          arguments: ["persistent", "volatile"])
    func variablesPersistOnlyWithPflash(store: String) throws {
        let dir = try GuestHarness.workDirectory("uefi-vars-\(store)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let variables: UefiBoot.VariableStore = store == "persistent" ? .persistent(path: dir + "/vars.fd") : .volatile
        let write = Self.mountVariables + """
            printf '\\007\\000\\000\\000avp' > /sys/firmware/efi/efivars/\(Self.variable) || { echo "FAIL: SetVariable"; exit 22; }
            echo "written=$(tail -c 3 /sys/firmware/efi/efivars/\(Self.variable))"
            """
        let (first, _) = try boot(in: dir, name: "write", script: write, variables: variables)
        #expect(first.testExitStatus == 0, "console:\n\(first.text.suffix(3000))")
        #expect(first.value("written") == "avp")

        let read = Self.mountVariables + """
            if [ -e /sys/firmware/efi/efivars/\(Self.variable) ]; then
                echo "survived=$(tail -c 3 /sys/firmware/efi/efivars/\(Self.variable))"
            else
                echo "survived=no"
            fi
            """
        let (second, _) = try boot(in: dir, name: "read", script: read, variables: variables)
        #expect(second.testExitStatus == 0, "console:\n\(second.text.suffix(3000))")
        #expect(second.value("survived") == (store == "persistent" ? "avp" : "no"))
    }

    /// The integration `boot: uefi` needs: the VM's own vhost-user device first (AVP's tree puts
    /// it on transport 31), the UEFI devices after it. edk2's VirtioRngDxe drives AVP's entropy
    /// server for EFI_RNG_PROTOCOL (no QEMU virtio-rng added), resets it at ExitBootServices,
    /// and Linux's virtio-rng then reads from the same server.
    @Test("AVPS-v2.0-2 (EBBR), AVPS-v2.0-40: through UEFI, edk2 and then Linux use the VM's `avp serve entropy` device on AVP's transport")
    func firmwareAndLinuxShareAnAVPDevice() throws {
        let dir = try GuestHarness.workDirectory("uefi-rng")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = dir + "/rng.sock"
        let server = try ServerProcess(arguments: ["serve", "entropy", "--socket", socket], logPath: dir + "/server.log")
        defer { server.stop() }
        try server.waitForSocket(socket)
        let platformFile = Self.platform + "\n    devices:\n      - {type: entropy}\n"
        let script = """
            echo "rng_current=$(cat /sys/class/misc/hw_random/rng_current)"
            echo "rng-bytes=$(head -c 65536 /dev/hwrng | wc -c)"
            dmesg | grep 'efi: ' | sed 's/^/dmesg: /'
            for d in /sys/bus/virtio/devices/*; do echo "virtio: $(basename $(readlink -f $d/..)) device=$(cat $d/device)"; done
            """
        let (console, _) = try boot(in: dir, name: "rng", script: script, platformFile: platformFile,
                                    devices: ["-chardev", "socket,id=rng,path=\(socket)", "-device", "vhost-user-rng,chardev=rng"],
                                    firmwareRNG: false)
        let text = console.text
        #expect(console.testExitStatus == 0, "console:\n\(text.suffix(3000))\nserver:\n\(server.log)")
        #expect(!text.contains("EFI_RNG_PROTOCOL unavailable"), "edk2 drove AVP's entropy device")
        #expect(text.contains("RNG=0x"))
        #expect(console.value("rng_current") == "virtio_rng.0")
        #expect(console.value("rng-bytes") == "65536")
        // AVP's device where AVP's tree says (transport 31, 0xa003e00), the ESP disk below it.
        #expect(text.contains("virtio: a003e00.virtio_mmio device=0x0004"), "\(text.suffix(1500))")
        #expect(text.contains("virtio: a003c00.virtio_mmio device=0x0002"), "\(text.suffix(1500))")
        #expect(server.log.contains("front end connected"))
        #expect(server.isRunning)
    }
}
