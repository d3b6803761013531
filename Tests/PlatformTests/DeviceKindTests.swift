import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// The device-kind registry as the platform uses it: what each kind's file decides
/// (options, rules, plan, device tree) reaches the checked platform, the launch plan
/// and the tools, for every kind.
@Suite struct DeviceKinds {
    let s: Scratch
    init() throws { s = try Scratch() }

    func plan(_ yaml: String) throws -> PlatformPlan { try s.plan(yaml, stateDirectory: s.directory + "/state") }

    @Test func everyKindHasItsOwnVirtioIDAndEveryOptionIsInTheSchema() throws {
        let schema = PlatformSchema.jsonSchema()
        let yaml = """
            profile: development
            networks: [{name: lan}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: block, image: disk.img, read-only: true},
                 {type: net, network: lan}, {type: vsock, cid: 3}, {type: console}]}
            """
        let platform = try #require(s.load(yaml).platform)
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil)
        let functions = try #require(tree.children.first { $0.name.hasPrefix("pcie@") }).children
        // virtio-pci modern device IDs are 0x1040 + the virtio ID (VIRTIO 1.2 §4.1.2.1): rng 4, blk 2, net 1, vsock 19, console 3.
        #expect(functions.map { $0.property("compatible") } == ["pci1af4,1044", "pci1af4,1042", "pci1af4,1041", "pci1af4,1053", "pci1af4,1043"].map { .string($0) })
        #expect(functions.map { $0.property("avp,server") } == ["a-entropy0", "a-block1", "switch-lan", "vsock", "a-console4"].map { .string($0) })
        #expect(functions[1].property("read-only") == .empty && functions[3].property("avp,cid") == .u64(3))
        for key in ["image", "size", "read-only", "serial", "queues", "cache", "direct", "network", "mac", "mtu", "mac-change",
                    "allowed-macs", "address", "cid"] {
            #expect(schema.contains("\"\(key)\" : {"), "\(key) missing from the JSON Schema")
        }
    }

    @Test func onlyShareableKindsLendTheirOptionsToServers() {
        let r = s.load("""
            profile: development
            servers: [{name: x, type: entropy, cid: 3}]
            vms: [{name: a, kernel: vmlinuz, initrd: initrd}]
            """)
        #expect(errors(r).first?.contains("unknown key 'cid'") == true, "\(errors(r))")
    }

    @Test("a block image with size: is created by avp up when missing, and an existing one is never touched")
    func imagesWithASizeAreCreated() throws {
        let p = try plan("""
            profile: production
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: block, image: new.img, size: 3M},
                 {type: block, image: disk.img, size: 1G}]}
            """)
        #expect(p.images.map(\.path) == [s.directory + "/new.img", s.directory + "/disk.img"] && p.images.map(\.mebibytes) == [3, 1024])
        try p.createMissingImages()
        let created = try FileManager.default.attributesOfItem(atPath: s.directory + "/new.img")
        #expect(created[.size] as? Int == 3 << 20)
        let existing = try FileManager.default.attributesOfItem(atPath: s.directory + "/disk.img")
        #expect(existing[.size] as? Int == 4096)
        try p.createMissingImages()   // again: nothing changes
        #expect(try FileManager.default.attributesOfItem(atPath: s.directory + "/new.img")[.size] as? Int == 3 << 20)
        // Without size:, a missing image is still an error.
        #expect(errors(s.load("profile: development\nvms: [{name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: block, image: gone.img}]}]"))
                .contains { $0.contains("gone.img does not exist") })
    }

    @Test("net interfaces get their address on the kernel command line: given, or link-local from the MAC")
    func interfacesAreAddressed() throws {
        let p = try plan("""
            profile: development
            networks: [{name: lan}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: net, network: lan, address: 10.0.0.1/24}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: net, network: lan, mac: "02:00:00:00:10:02"}]}
            """)
        #expect(p.vms[0].command.fullKernelArguments.contains { $0.hasPrefix("avp.ip=") && $0.hasSuffix(",10.0.0.1/24") })
        #expect(p.vms[1].command.fullKernelArguments.contains("avp.ip=02:00:00:00:10:02,169.254.17.2/16"))
        let bad = s.load("""
            profile: development
            networks: [{name: lan}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: net, network: lan, address: 10.0.0.1/24},
                 {type: net, network: lan, address: 10.0.0.1/24}, {type: net, network: lan, address: 300.0.0.1/24},
                 {type: net, network: lan, address: 127.0.0.1/8}, {type: net, network: lan, address: 10.0.0.9/33}]}
            """)
        let e = errors(bad)
        #expect(e.contains { $0.contains("address 10.0.0.1 is already used by VM 'a'") })
        for text in ["300.0.0.1/24", "127.0.0.1/8", "10.0.0.9/33"] {
            #expect(e.contains { $0.contains("'\(text)' is not an IPv4 interface address") }, "\(e)")
        }
    }

    /// Every shipped example passes `avp check` as shipped, once `make setup` has built the
    /// default guest image (the only files the examples do not bring or create).
    @Test func everyShippedExampleIsValid() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for file in files {
            let r = PlatformLoader.load(path: examples.appendingPathComponent(file).path)
            let problems = r.errors.filter { !($0.fix ?? "").hasPrefix("build the default guest image: scripts/guest-image") }
            #expect(problems.isEmpty, "\(file): \(errors(r))")
            #expect(PlatformLoader.load(path: examples.appendingPathComponent(file).path, checkingFiles: false).errors.isEmpty)
        }
    }

    @Test("avp describe needs neither the kernel nor the disk images")
    func describeWithoutFiles() throws {
        let file = s.directory + "/bare.yaml"
        try """
            profile: production
            vms: [{name: a, kernel: nowhere/vmlinuz, devices: [{type: entropy}, {type: block, image: nowhere.img}]}]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try AVPExecutable.run(["describe", file, "--vm", "a"])
        #expect(run.status == 0 && run.standardOutput.contains("avp,server = \"a-block1\""), "\(run.output)")
        let check = try AVPExecutable.run(["check", file])
        #expect(check.status == 1 && check.standardError.contains("nowhere.img does not exist"), "\(check.output)")
    }
}

extension DeviceKinds {
    @Test("server names AVP makes never join two different servers into one process")
    func serverNamesDoNotCollide() {
        let r = s.load("""
            profile: development
            servers: [{name: vsock, type: entropy}, {name: a-block1, type: block, image: shared.img, read-only: true}]
            networks: [{name: entropy0}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy, server: vsock}, {type: block, image: disk.img}, {type: vsock, cid: 3}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: block, server: a-block1}]}
              - {name: switch, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: net, network: entropy0}]}
            """)
        let e = errors(r)
        #expect(e.contains { $0.contains("server name 'vsock' would be both shared server 'vsock' and the vsock server of VM 'a'") }, "\(e)")
        #expect(e.contains { $0.contains("server name 'a-block1' would be both the block server of VM 'a' and shared server 'a-block1'") }, "\(e)")
        #expect(e.contains { $0.contains("server name 'switch-entropy0' would be both the entropy server of VM 'switch' and the net server of VM 'switch'") }, "\(e)")
        // Devices that do share a server (a network's switch, the vsock server, a shared server) are fine.
        #expect(s.load("""
            profile: development
            servers: [{name: rng, type: entropy}]
            networks: [{name: lan}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy, server: rng}, {type: net, network: lan}, {type: vsock, cid: 3}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy, server: rng}, {type: net, network: lan}, {type: vsock, cid: 4}]}
            """).errors.isEmpty)
    }
}

extension DeviceKinds {
    static let cockpit = """
        profile: development
        displays:
          - name: cockpit
            mode: 1920x1080@60
            size: 293x165
            layers:
              - {vm: cluster, at: [0, 0, 1920, 720], safety: [[0, 0, 200, 100]]}
              - {vm: ivi, at: [0, 720, 1920, 360], opacity: 230}
        vms:
          - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}
          - {name: cluster, machine: microvm, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}
        """

    @Test("AVPS-v2.0-27/28/29: displays compose VM scanouts; each layer is one scanout of its VM with the display's pixel density")
    func displaysBecomeOneGpuServer() throws {
        let p = try plan(Self.cockpit)
        let gpu = try #require(p.servers.first { $0.name == "gpu" })
        let options = try GpuServeOptions.parse(Array(gpu.arguments.dropFirst(2)))
        #expect(options.vm.map(\.name) == ["ivi", "cluster"])
        let served = options.servedVMs
        #expect(served.map(\.modes) == [[DisplayMode(width: 1920, height: 360, widthMM: 293, heightMM: 55)],
                                        [DisplayMode(width: 1920, height: 720, widthMM: 293, heightMM: 110)]])
        let policy = try #require(options.displayPolicies.first)
        #expect(policy.name == "cockpit" && policy.width == 1920 && policy.layers.map(\.source.vm) == ["cluster", "ivi"])
        #expect(policy.layers[1].opacity == 230 && policy.layers[0].safetyRegions == [GpuRect(x: 0, y: 0, width: 200, height: 100)])
        #expect(p.vms[0].command.arguments.joined(separator: " ").contains("vhost-user-gpu-pci,chardev=gpu1"))
        #expect(p.vms[1].command.arguments.joined(separator: " ").contains("vhost-user-gpu,chardev=gpu1"))
    }

    @Test func displayMistakesAreFoundWhereTheyAreWritten() {
        let r = s.load("""
            profile: development
            displays:
              - name: main
                mode: 800x480
                size: 154x86
                layers:
                  - {vm: ghost}
                  - {vm: a, at: [700, 0, 200, 100]}
                  - {vm: a, at: [0, 0, 100, 100], safety: [[50, 50, 100, 100]]}
                  - {vm: b}
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}]}
            """)
        let e = errors(r)
        #expect(e.contains("7:14 'ghost' is not a VM of this platform"), "\(e)")
        #expect(e.contains("8:21 a layer is [x, y, width, height] within the display's 800x480"), "\(e)")
        #expect(e.contains { $0.hasPrefix("9:") && $0.contains("a safety region is [x, y, width, height] within its layer's 100x100") }, "\(e)")
        #expect(e.contains("10:14 VM 'b' has no gpu device"), "\(e)")
    }

    @Test("a VM with a gpu device boots the backports guest image by default (Debian 6.12 has virtio_gpu)")
    func gpuVMsDefaultToTheBackportsKernel() throws {
        let r = s.load("profile: development\nvms: [{name: a, devices: [{type: entropy}, {type: gpu}]}]\n", checkingFiles: false)
        let vm = try #require(r.platform?.vms.first)
        #expect(vm.kernel.contains("bookworm-backports-amd64"))
    }
}

extension DeviceKinds {
    @Test("an image is written by one VM and then read by none: its servers lock it")
    func aWrittenImageIsNotAlsoRead() {
        for (first, second) in [("", ", read-only: true"), (", read-only: true", "")] {
            let r = s.load("""
                profile: development
                vms:
                  - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: block, image: disk.img\(first)}]}
                  - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: block, image: disk.img\(second)}]}
                """)
            let e = errors(r)
            let expected = first.isEmpty ? "VM 'b' reads \(s.directory)/disk.img, which VM 'a' writes" : "VM 'b' writes \(s.directory)/disk.img, which VM 'a' reads"
            #expect(e.contains { $0.hasSuffix(expected) }, "\(e)")
            #expect(r.errors.first?.fix == "give the reader a copy of the image, or make both read-only")
        }
        #expect(s.load("""
            profile: development
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: block, image: disk.img, read-only: true}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: block, image: disk.img, read-only: true}]}
            """).errors.isEmpty)
    }
}
