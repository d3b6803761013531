import Foundation
import Platform
import Testing

/// aarch64 VMs: the platform rules, the qemu-system-aarch64 command line, and AVP's device
/// tree for `-M virt,gic-version=3`, proven against the tree QEMU itself builds (`dumpdtb`).
@Suite struct ArmVirtTrees {
    let s: Scratch
    init() throws { s = try Scratch() }

    static let platform = """
        name: car
        profile: development
        networks: [{name: lan}]
        vms:
          - name: ecu
            arch: aarch64
            kernel: vmlinuz
            initrd: initrd
            cpus: 2
            memory: 768M
            cmdline: quiet
            devices:
              - {type: entropy}
              - {type: console}
              - {type: block, image: disk.img}
              - {type: vsock, cid: 5}
              - {type: net, network: lan}
        """

    @Test("aarch64 VMs default to virt; x86-only machines, a virt x86 VM and a watchdog on virt are errors")
    func rules() throws {
        let r = s.load(Self.platform)
        let vm = try #require(r.platform?.vms.first, "\(errors(r))")
        #expect(vm.machine == .virt && vm.arch == .aarch64)
        let cases: [(String, String)] = [
            ("{name: a, arch: aarch64, machine: q35, kernel: vmlinuz, initrd: initrd}", "machine 'q35' is an x86_64 machine"),
            ("{name: a, arch: aarch64, machine: microvm, kernel: vmlinuz, initrd: initrd}", "machine 'microvm' is an x86_64 machine"),
            ("{name: a, machine: virt, kernel: vmlinuz, initrd: initrd}", "machine 'virt' is an aarch64 machine"),
            ("{name: a, arch: aarch64, kernel: vmlinuz, initrd: initrd, watchdog: {timeout: 30}}", "QEMU offers none on Arm's virt machine"),
        ]
        for (vm, message) in cases {
            let bad = s.load("profile: development\nvms: [\(vm)]")
            #expect(errors(bad).contains { $0.contains(message) }, "\(vm): \(errors(bad))")
        }
        // Without a kernel given, an aarch64 VM boots the arm64 guest image whatever its devices.
        let image = s.load("profile: development\nvms: [{name: a, arch: aarch64, devices: [{type: gpio, lines: [x]}]}]", checkingFiles: false)
        #expect(image.platform?.vms.first?.kernel.hasSuffix("/avp-6.12-arm64/vmlinuz") == true, "\(errors(image))")
        // Its kernel has no virtio-gpu or virtio-snd driver: a warning, not an error (a kernel of one's own may).
        let gpu = s.load("profile: development\nvms: [{name: a, arch: aarch64, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}]", checkingFiles: false)
        #expect(gpu.errors.isEmpty && gpu.diagnostics.contains { $0.message.contains("has no gpu driver") }, "\(gpu.diagnostics)")
    }

    @Test("an aarch64 VM runs on qemu-system-aarch64 -M virt with shared memfd RAM, AVP's -dtb and ttyAMA0")
    func commandLine() throws {
        let plan = try s.plan(Self.platform, stateDirectory: s.directory + "/state")
        let command = try #require(plan.vms.first).command
        let a = command.arguments
        #expect(command.qemu == "qemu-system-aarch64")
        #expect(a.contains("virt,gic-version=3,acpi=off,accel=tcg,memory-backend=mem"))
        #expect(a.contains("memory-backend-memfd,id=mem,size=768M,share=on") && a.contains("-no-reboot"))
        #expect(zip(a, a.dropFirst()).contains { $0 == "-cpu" && $1 == "max" })
        #expect(zip(a, a.dropFirst()).contains { $0 == "-dtb" && $1 == s.directory + "/state/vm-ecu.dtb" })
        #expect(command.fullKernelArguments.contains("console=ttyAMA0") && !command.fullKernelArguments.contains { $0.hasPrefix("tsc_early_khz") })
        for model in ["vhost-user-rng,", "vhost-user-blk,", "vhost-user-vsock-device,", "virtio-net-device,", "virtio-serial-device,"] {
            #expect(a.contains { $0.hasPrefix(model) }, "no \(model) in \(a)")
        }
    }

    @Test("production: no PL011 in the tree, and the lockdown accepts the command line")
    func production() throws {
        let yaml = Self.platform.replacingOccurrences(of: "profile: development", with: "profile: production")
            .replacingOccurrences(of: "      - {type: console}\n", with: "")
        let plan = try s.plan(yaml, stateDirectory: s.directory + "/state")
        let tree = try VirtualHardware.deviceTree(platform: plan.platform, vm: plan.platform.vms[0], plan: plan.vms[0])
        #expect(tree.child("pl011@9000000") == nil && tree.child("aliases") == nil)
        #expect(tree.child("chosen")?.property("stdout-path") == nil)
        try ProductionLockdown.verify(plan.vms[0].command.arguments)
    }

    @Test("labels become phandles: dtc reads AVP's arm64 tree, and the reader gives back what was written")
    func phandles() throws {
        let plan = try s.plan(Self.platform, stateDirectory: s.directory + "/state")
        let tree = try VirtualHardware.deviceTree(platform: plan.platform, vm: plan.platform.vms[0], plan: plan.vms[0])
        let blob = FlattenedDeviceTree.encode(tree)
        let read = try FlattenedDeviceTreeReader.decode(blob)
        let resolved = tree.resolvingPhandles()
        let written = resolved.allNodes(), decoded = read.allNodes()
        #expect(written.map(\.path) == decoded.map(\.path))
        for ((path, a), (_, b)) in zip(written, decoded) {
            #expect(a.properties.map(\.0) == b.properties.map(\.0), "\(path)")
            for ((name, value), (_, bytes)) in zip(a.properties, b.properties) {
                #expect(.bytes(value.encoded) == bytes, "\(path)/\(name)")
            }
        }
        let gic = try #require(resolved.node(at: "/intc@8000000")?.property("phandle"))
        #expect(resolved.property("interrupt-parent") == gic)
        let dts = try ArmQemu.run("/usr/bin/dtc", ["-q", "-I", "dtb", "-O", "dts", try ArmQemu.write(blob, s.directory + "/t.dtb")])
        #expect(dts.status == 0 && dts.output.contains("interrupt-parent = <0x"), "\(dts.output)")
        // A cut blob is an error, never a trap.
        for cut in [0, 39, 40, blob.count / 2, blob.count - 1] {
            #expect(throws: FlattenedDeviceTreeReader.DeviceTreeReadError.self) { try FlattenedDeviceTreeReader.decode(Array(blob.prefix(cut))) }
        }
    }

    @Test("SCMI: /firmware/scmi with the protocols the device has; CPUs in its performance domain get clocks")
    func scmi() throws {
        let topology = ScmiTopology(sensorCount: 3, performanceDomains: 2, cpuPerformanceDomain: 1, powerDomains: 0, resetDomains: 1)
        let firmware = ScmiFirmwareNode.firmware(topology)
        let scmi = try #require(firmware.child("scmi"))
        #expect(scmi.property("compatible") == .string("arm,scmi-virtio"))
        #expect(scmi.children.map(\.name) == ["protocol@13", "protocol@15", "protocol@16"])
        #expect(scmi.child("protocol@13")?.label == ScmiFirmwareNode.performanceLabel)
        let clocks = try #require(ScmiFirmwareNode.cpuClocks(topology))
        #expect(clocks.0 == "clocks" && clocks.1 == .references([.reference("scmi_perf"), .number(1)]))
        #expect(ScmiFirmwareNode.cpuClocks(ScmiTopology(performanceDomains: 1, cpuPerformanceDomain: 1)) == nil)
        // Resolved: the CPU's clocks name the protocol node's phandle.
        let root = DeviceTreeNode("", children: [
            ArmVirtHardware.cpusForTest(count: 1, clocks: clocks), firmware]).resolvingPhandles()
        let phandle = try #require(root.node(at: "/firmware/scmi/protocol@13")?.property("phandle"))
        guard case let .cells(p) = phandle else { Issue.record("phandle \(phandle)"); return }
        #expect(root.node(at: "/cpus/cpu@0")?.property("clocks") == .cells([p[0], 1]))
    }

    /// {AVPS-v2.0-3}: every node of QEMU's own tree for the same command line that AVP's tree has
    /// carries the same properties (addresses, interrupts, compatibles, cells, clocks), phandles
    /// compared by the node they name; the nodes AVP leaves out are exactly the PCIe host, the ITS
    /// and the platform bus. And each AVP device sits on the transport QEMU put it on.
    @Test("AVPS-v2.0-3: AVP's arm64 tree matches QEMU 10's -M virt,gic-version=3 placement (dumpdtb, info qtree)")
    func matchesQemu() throws {
        let plan = try s.plan(Self.platform, stateDirectory: s.directory + "/state")
        let ours = try VirtualHardware.deviceTree(platform: plan.platform, vm: plan.platform.vms[0], plan: plan.vms[0]).resolvingPhandles()
        let standIns = ArmQemu.standInArguments(plan.vms[0].command.arguments)
        let dump = s.directory + "/qemu.dtb"
        let run = try ArmQemu.run("/usr/bin/qemu-system-aarch64", ArmQemu.dumping(standIns, to: dump))
        #expect(run.status == 0, "\(run.output)")
        let qemu = try FlattenedDeviceTreeReader.decode(Array(try Data(contentsOf: URL(fileURLWithPath: dump))))

        let ourPaths = Set(ours.allNodes().map(\.path)), qemuPaths = Set(qemu.allNodes().map(\.path))
        #expect(qemuPaths.subtracting(ourPaths).sorted() == ["/intc@8000000/its@8080000", "/pcie@10000000", "/platform-bus@c000000"])
        #expect(ourPaths.subtracting(qemuPaths).sorted() == ["/firmware", "/firmware/scmi"].filter { ourPaths.contains($0) })
        let referencing: Set = ["interrupt-parent", "clocks", "cpu", "gpios"]
        let skipped: Set = ["phandle", "model", "compatible@/", "bootargs", "kaslr-seed", "rng-seed"]
        var compared = 0
        for (path, theirs) in qemu.allNodes() where path != "/chosen" {
            guard let mine = ours.node(at: path) else { continue }
            for (name, value) in theirs.properties where !skipped.contains(name) && !(path == "/" && name == "compatible") {
                guard let ourValue = mine.property(name) else { Issue.record("\(path): no \(name)"); continue }
                if referencing.contains(name) {
                    let all = name == "clocks"
                    #expect(ArmQemu.targets(value, in: qemu, allPhandles: all) == ArmQemu.targets(.bytes(ourValue.encoded), in: ours, allPhandles: all),
                            "\(path)/\(name)")
                } else {
                    #expect(.bytes(ourValue.encoded) == value, "\(path)/\(name)")
                }
                compared += 1
            }
            // Beyond QEMU's: phandles, and the description of the AVP device on a transport.
            let extra = Set(mine.properties.map(\.0)).subtracting(theirs.properties.map(\.0))
            #expect(path == "/" || mine.property("avp,device") != nil || extra.subtracting(["phandle"]).isEmpty,
                    "\(path) has properties QEMU's has not: \(extra)")
        }
        #expect(compared > 150)
        #expect(ours.node(at: "/chosen")?.property("stdout-path") == .string("/pl011@9000000"))

        // Placement: QEMU's qtree names the bus each stand-in (the AVP device's id) sits on.
        let (placed, qtree) = try ArmQemu.transports(standIns)
        let devices = plan.vms[0].command.vhostUserDevices.map(\.id) + ["vserial0"]
        #expect(placed.count == devices.count, "\(placed) \(standIns) \(qtree.suffix(3000))")
        for (n, id) in devices.enumerated() {
            let transport = ArmVirtHardware.transport(ofDevice: n)
            #expect(placed[id.hasSuffix("vserial0") ? id : id + "-dev"] == transport, "\(id): \(placed)")
            let node = try #require(ours.child("virtio_mmio@\(String(0xa00_0000 + 0x200 * transport, radix: 16))"))
            let kind = id == "vserial0" ? "console" : String(id.prefix { $0.isLetter })
            #expect(node.property("avp,device") == .string(kind), "\(id) on \(transport)")
        }
    }
}

extension ArmVirtHardware {
    static func cpusForTest(count: Int, clocks: (String, DeviceTreeNode.Value)) -> DeviceTreeNode {
        DeviceTreeNode("cpus", children: (0..<count).map { DeviceTreeNode("cpu@\($0)", properties: [clocks]) })
    }
}
