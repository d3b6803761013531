import Foundation
import Platform
import Testing

/// Real arm64 guests through `avp up`: qemu-system-aarch64 -M virt (TCG here), AVP's arm64
/// image, the device tree AVP writes before every boot. One VM, two runs of the platform:
/// the first boot checks the tree, PSCI CPU hotplug and the devices and powers off (policy
/// on-failure: the VM stays down); then, with policy always, a reboot restarts it.
@Suite(.serialized) struct ArmGuests {
    static let image = GuestImage.cached(.arm64)

    /// Boot counter on the disk; boot 1 walks /proc/device-tree and takes cpu1 off and on line.
    static let script = #"""
        n=$(head -c 8 /dev/vda | tr -dc 0-9); n=$((${n:-0} + 1))
        echo "boot$n" | dd of=/dev/vda conv=fsync 2>/dev/null
        echo "ARM-BOOT=$n"
        echo 0 > /proc/sys/kernel/kptr_restrict
        echo "ARM-TEXT=$(grep ' T _stext$' /proc/kallsyms | cut -d' ' -f1) $(dmesg | grep -c 'KASLR enabled')"
        if [ "$n" = 1 ]; then
          cd /proc/device-tree
          find . -type d | sed 's|^\.||' | sort | while read d; do echo "DT-NODE /${d#/}"; done
          find . -type f | sed 's|^\./||' | sort | while read f; do echo "DT-PROP /$f $(hexdump -v -e '1/1 "%02x"' "$f")"; done
          cd /
          echo "CPUS=$(cat /sys/devices/system/cpu/online)"
          echo 0 > /sys/devices/system/cpu/cpu1/online
          echo "CPU1-OFF=$(cat /sys/devices/system/cpu/cpu1/online) CPUS=$(cat /sys/devices/system/cpu/online)"
          echo 1 > /sys/devices/system/cpu/cpu1/online
          echo "CPU1-ON=$(cat /sys/devices/system/cpu/cpu1/online) CPUS=$(cat /sys/devices/system/cpu/online)"
          echo "RNG=$(cat /sys/class/misc/hw_random/rng_current) $(head -c 32 /dev/hwrng | wc -c)"
          echo "VSOCK=$(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport | grep -c virtio)"
          echo ARM-DONE
          exit 0
        fi
        echo ARM-DONE
        sleep 3
        [ "$n" = 2 ] && reboot -f
        sleep 600
        """#

    static func platform(restart: String, initrd: String) -> String {
        """
        profile: development
        vms:
          - name: ecu
            arch: aarch64
            cpus: 2
            memory: 512M
            initrd: \(initrd)
            restart: \(restart)
            devices:
              - {type: entropy}
              - {type: block, image: boot.img, size: 16M}
              - {type: vsock, cid: 7}
        """
    }

    @Test("AVPS-v2.0-3, AVPS-v2.0-42, AVPS-v2.0-36: an arm64 VM boots AVP's device tree (/proc/device-tree equals it, kaslr-seed consumed), PSCI takes cpu1 off and on, poweroff ends the VM, reboot restarts it, KASLR differs per boot",
          .runningTimeLimit(minutes: 12))
    func armVM() throws {
        try Self.image.ensureBuilt()
        _ = try QemuProcess.resolve("qemu-system-aarch64")
        let dir = try GuestHarness.workDirectory("arm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.image.initrd(withScript: Self.script, at: dir + "/test.initrd")
        let state = dir + "/state/arm"
        func dtb() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: state + "/vm-ecu.dtb"))) }

        // Run 1, policy on-failure: the first boot's checks, then poweroff leaves the VM down and avp up exits.
        let first = try RunningPlatform(name: "arm", yaml: Self.platform(restart: "on-failure", initrd: "test.initrd"), directory: dir)
        defer { first.stop() }
        // Both runs of the platform (same name and directory) write the same serial log.
        func serial() -> String { first.serialLog("ecu") }
        let booted = first.wait(GuestHarness.guestTimeout * 2) { serial().contains("ARM-DONE") }
        let log1 = serial()
        let tree1 = try FlattenedDeviceTreeReader.decode(try dtb())
        #expect(booted, "boot 1:\n\(log1)\n\(first.upLog)")
        #expect(first.wait(60) { !first.process.isRunning }, "avp up still running after the guest's poweroff:\n\(first.upLog)")
        #expect(first.status?.vms.first?.state == "powered off" && first.status?.vms.first?.restarts == 0, "\(String(describing: first.status))")
        #expect(log1.contains("ARM-BOOT=1"))

        try Self.checkDeviceTree(guest: log1, written: tree1)
        // PSCI CPU_OFF and CPU_ON ({AVPS-v2.0-36}).
        #expect(log1.contains("CPUS=0-1\n") && log1.contains("CPU1-OFF=0 CPUS=0\n") && log1.contains("CPU1-ON=1 CPUS=0-1\n"), "\(log1)")
        #expect(log1.contains("RNG=virtio_rng.0 32") && log1.contains("VSOCK=1"), "\(log1)")

        // Run 2, policy always: boot 2 reboots, and the supervisor starts boot 3 with a new tree.
        let second = try RunningPlatform(name: "arm", yaml: Self.platform(restart: "always", initrd: "test.initrd"), directory: dir)
        defer { second.stop() }
        #expect(second.wait(GuestHarness.guestTimeout * 2) { serial().contains("ARM-BOOT=2") && serial().contains("ARM-DONE") }, "boot 2:\n\(serial())")
        let log2 = serial()
        let tree2 = try FlattenedDeviceTreeReader.decode(try dtb())
        #expect(second.wait(GuestHarness.guestTimeout * 2) { serial().contains("ARM-BOOT=3") && serial().contains("ARM-DONE") },
                "boot 3 after the reboot:\n\(serial())\n\(second.upLog)")
        let log3 = serial()
        let tree3 = try FlattenedDeviceTreeReader.decode(try dtb())
        #expect(second.status?.vms.first?.restarts == 1 && second.status?.vms.first?.state == "running", "\(String(describing: second.status))")

        // {AVPS-v2.0-42}: a fresh nonzero seed in every boot's tree, and the kernel's text moved.
        let seeds = [tree1, tree2, tree3].map { $0.node(at: "/chosen")?.property("kaslr-seed") }
        #expect(Set(seeds.map { "\(String(describing: $0))" }).count == 3, "\(seeds)")
        #expect(!seeds.contains(.bytes([UInt8](repeating: 0, count: 8))) && !seeds.contains(nil))
        // arm64's kallsyms has _stext (no _text); the kernel also says "KASLR enabled".
        let lines = [log1, log2, log3].map { log in log.split(separator: "\n").first { $0.hasPrefix("ARM-TEXT=") }.map { String($0.dropFirst(9)) } ?? "" }
        print("arm64 guest: _stext per boot \(lines)")
        let texts = lines.map { String($0.prefix { $0 != " " }) }
        #expect(lines.allSatisfy { $0.hasSuffix(" 1") } && texts.allSatisfy { $0.count == 16 && $0 != String(repeating: "0", count: 16) }, "\(lines)")
        #expect(Set(texts).count == 3, "KASLR: the kernel's text address should differ between boots: \(texts)")
    }

    /// examples/mixed-arch.yaml's shape: an x86 VM and an arm64 VM on one platform, sharing the
    /// entropy server and a switch; each has a disk, vsock and a console `avp console` reaches.
    @Test("AVPS-v2.0-3, AVPS-v2.0-15, AVPS-v2.0-46, AVPS-v2.0-39: a platform mixing an x86 and an arm64 VM: both boot, share entropy, ping each other over the switch, avp console reaches the arm64 VM's hvc0, and its SCMI sensors and CPU performance domain reach Linux",
          .runningTimeLimit(minutes: 8))
    func mixedPlatform() throws {
        try Self.image.ensureBuilt()
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("mixed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/mixed-arch.yaml")
        // The shipped example, with the x86 VM on the default image (the example names none), and its signals file.
        try FileManager.default.copyItem(atPath: examples.deletingLastPathComponent().appendingPathComponent("vehicle-signals.csv").path,
                                         toPath: dir + "/vehicle-signals.csv")
        let platform = try RunningPlatform(name: "mixed", yaml: try String(contentsOf: examples, encoding: .utf8), directory: dir)
        defer { platform.stop() }
        func up(_ vm: String) -> Bool {
            (platform.logs("vm-\(vm).console.log") + platform.logs("vm-\(vm).serial.log")).contains(GuestImage.readyMarker)
        }
        #expect(platform.wait(GuestHarness.guestTimeout * 2) { up("hmi") && up("ecu") }, "guests did not boot:\n\(platform.upLog)" as Comment)
        let arm = try platform.consoleRun("ecu", "echo arch-$((6*7)) $(uname -m) $(cat /sys/class/misc/hw_random/rng_current) $(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport | grep -c virtio) $(cat /sys/block/vda/size)",
                                          expect: "arch-42 aarch64 virtio_rng.0 1 131072")
        #expect(arm.contains("arch-42 aarch64 virtio_rng.0 1 131072"), "\(arm)")
        let x86 = try platform.consoleRun("hmi", "echo arch-$((6*7)) $(uname -m)", expect: "arch-42 x86_64")
        #expect(x86.contains("arch-42 x86_64"), "\(x86)")
        let ping = try platform.consoleRun("ecu", "ping -c 2 -W 3 10.0.1.1 > /dev/null && echo ping-$((3*3))", expect: "ping-9")
        #expect(ping.contains("ping-9"), "\(ping)")
        // SCMI over virtio: the simulated vehicle's sensors in the arm64 VM's hwmon, its CPU on the performance domain.
        let scmi = try platform.consoleRun("ecu", "echo scmi-$(cat /sys/class/hwmon/hwmon*/*_label | sort | tr '\\n' -)$(cat /sys/devices/system/cpu/cpufreq/policy0/scaling_available_frequencies)",
                                           expect: "scmi-battery-coolant-600000 1200000 1800000")
        #expect(scmi.contains("scmi-battery-coolant-600000 1200000 1800000"), "\(scmi)")
        // The arm64 VM's tree in the state directory is the one it booted: its console is a virtio-serial port on the highest transport.
        let tree = try FlattenedDeviceTreeReader.decode(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/state/mixed/vm-ecu.dtb"))))
        #expect(tree.node(at: "/virtio_mmio@a003e00")?.property("avp,device") == .bytes(Array("entropy".utf8) + [0]))
        #expect(tree.node(at: "/virtio_mmio@a003600")?.property("avp,device") == .bytes(Array("scmi".utf8) + [0]))
        #expect(tree.node(at: "/virtio_mmio@a003400")?.property("avp,device") == .bytes(Array("console".utf8) + [0]))
    }

    /// The guest's /proc/device-tree is the tree AVP wrote, but for what the boot legitimately
    /// changes: the kernel zeroes kaslr-seed once used and removes rng-seed; QEMU adds the
    /// initrd's place; Linux adds a `name` to every node.
    static func checkDeviceTree(guest log: String, written: DeviceTreeNode) throws {
        var guestNodes: Set<String> = []
        var guestProperties: [String: [UInt8]] = [:]
        for line in log.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if fields.first == "DT-NODE", fields.count >= 2 { guestNodes.insert(fields[1] == "/" ? "/" : String(fields[1].dropLast(fields[1].hasSuffix("/") ? 1 : 0))) }
            if fields.first == "DT-PROP", fields.count >= 2 {
                let hex = fields.count > 2 ? fields[2] : ""
                var bytes: [UInt8] = []
                var i = hex.startIndex
                while let j = hex.index(i, offsetBy: 2, limitedBy: hex.endIndex), i < hex.endIndex {
                    bytes.append(UInt8(hex[i..<j], radix: 16) ?? 0)
                    i = j
                }
                guestProperties[fields[1]] = bytes
            }
        }
        #expect(guestProperties.count > 200, "the guest printed \(guestProperties.count) properties")
        func join(_ node: String, _ property: String) -> String { (node == "/" ? "" : node) + "/" + property }
        var writtenKeys: Set<String> = []
        for (path, node) in written.allNodes() {
            #expect(guestNodes.contains(path), "node \(path) is not in the guest's tree")
            for (name, value) in node.properties {
                let key = join(path, name)
                writtenKeys.insert(key)
                guard case let .bytes(bytes) = value else { continue }
                switch key {
                case "/chosen/kaslr-seed":
                    #expect(bytes != [UInt8](repeating: 0, count: 8), "AVP wrote a zero kaslr-seed")
                    #expect(guestProperties[key] == [UInt8](repeating: 0, count: 8), "the kernel did not consume kaslr-seed: \(String(describing: guestProperties[key]))")
                case "/chosen/rng-seed":
                    #expect(guestProperties[key] == nil, "rng-seed was not consumed")
                default:
                    #expect(guestProperties[key] == bytes, "\(key): guest \(String(describing: guestProperties[key])) written \(bytes)")
                }
            }
        }
        let added = Set(guestProperties.keys).subtracting(writtenKeys).filter { !$0.hasSuffix("/name") }
        #expect(added == ["/chosen/linux,initrd-start", "/chosen/linux,initrd-end"], "properties the guest has that AVP did not write: \(added.sorted())")
        let extraNodes = guestNodes.subtracting(written.allNodes().map(\.path))
        #expect(extraNodes.isEmpty, "nodes the guest has that AVP did not write: \(extraNodes.sorted())")
    }
}
