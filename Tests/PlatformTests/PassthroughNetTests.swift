import Foundation
import Platform
import Testing

/// NIC dedication ({AVPS-v2.0-9}) as configuration: `host-device:` on a net device becomes
/// QEMU arguments (VFIO, or a macvtap's tap descriptor) and `avp check` diagnostics. No NIC
/// is passed through here (the test machine has none to spare).
@Suite struct PassthroughNet {
    let s: Scratch
    init() throws { s = try Scratch() }

    func plan(_ yaml: String) throws -> PlatformPlan { try s.plan(yaml, stateDirectory: "/tmp/avp-test-state") }

    func vm(_ devices: String, machine: String = "q35", arch: String = "x86_64") -> String {
        """
        profile: development
        networks: [{name: lan}]
        vms:
          - {name: a, arch: \(arch), machine: \(machine), kernel: vmlinuz, initrd: initrd, devices: [\(devices)]}
        """
    }

    /// Where `value` is among `args`.
    func index(of value: String, in args: [String]) throws -> Int { try #require(args.firstIndex(of: value), "\(value) not in \(args)") }

    @Test("AVPS-v2.0-9 (partial: configuration only): a PCI NIC given with vfio: is one -device vfio-pci in its place on q35, with no server")
    func vfioNICOnQ35() throws {
        let p = try plan(vm("{type: entropy}, {type: net, host-device: 'vfio:03:00.0'}, {type: net, network: lan}"))
        let args = p.vms[0].command.arguments
        let vfio = try index(of: "vfio-pci,host=0000:03:00.0,id=net1-dev", in: args)
        #expect(args[vfio - 1] == "-device")
        // Platform-file order: after the entropy device, before the switch port (q35 numbers the slots in this order).
        #expect(try index(of: "socket,id=entropy0,path=/tmp/avp-test-state/sockets/a-entropy0.sock,server=on,wait=on", in: args) < vfio)
        #expect(try index(of: "socket,id=net2,path=/tmp/avp-test-state/sockets/lan-a-2.sock,server=on,wait=on", in: args) > vfio)
        #expect(p.servers.map(\.name).sorted() == ["a-entropy0", "switch-lan"])
        #expect(p.vms[0].servers.sorted() == ["a-entropy0", "switch-lan"])
        #expect(p.vms[0].macvtaps.isEmpty)
        #expect(p.vms[0].command.kernelArguments.filter { $0.hasPrefix("avp.ip=") }.count == 1)   // the switch port's only

        let platform = try #require(s.load(vm("{type: entropy}, {type: net, host-device: 'vfio:03:00.0'}, {type: net, network: lan}")).platform)
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil)
        let functions = try #require(tree.children.first { $0.name.hasPrefix("pcie@") }).children
        #expect(functions.map(\.name) == ["virtio@1,0", "pci@2,0", "virtio@3,0"])
        #expect(functions[1].property("avp,host-device") == .string("vfio:0000:03:00.0"))
        #expect(functions[1].property("avp,virtio-device-id") == nil && functions[1].property("compatible") == nil)
        #expect(functions[1].property("avp,server") == nil && functions[0].property("avp,server") == .string("a-entropy0"))
    }

    @Test("AVPS-v2.0-9 (partial: configuration only): macvtap: becomes a macvtap avp up creates and a tap descriptor QEMU inherits")
    func macvtapNIC() throws {
        let p = try plan(vm("""
            {type: entropy}, {type: net, host-device: 'macvtap:eth1', mac: '02:00:00:00:00:01', address: 10.1.0.2/24},
            {type: net, host-device: 'macvtap:eth2', mac: '02:00:00:00:00:02'}
            """))
        let launch = p.vms[0]
        #expect(launch.macvtaps == [Macvtap(name: "avp-a-1", parent: "eth1", mac: "02:00:00:00:00:01", fd: 3),
                                    Macvtap(name: "avp-a-2", parent: "eth2", mac: "02:00:00:00:00:02", fd: 4)])
        #expect(launch.macvtaps[0].createCommands == [["link", "add", "link", "eth1", "name", "avp-a-1", "type", "macvtap", "mode", "passthru"],
                                                      ["link", "set", "dev", "avp-a-1", "address", "02:00:00:00:00:01", "up"]])
        #expect(launch.macvtaps[0].deleteCommand == ["link", "delete", "dev", "avp-a-1"])
        let args = launch.command.arguments
        let netdev = try index(of: "tap,id=net1-net,fd=3", in: args)
        #expect(Array(args[(netdev - 1)...(netdev + 2)]) == ["-netdev", "tap,id=net1-net,fd=3",
                                                             "-device", "virtio-net-pci,netdev=net1-net,id=net1-dev,mac=02:00:00:00:00:01"])
        #expect(args.contains("tap,id=net2-net,fd=4") && args.contains("virtio-net-pci,netdev=net2-net,id=net2-dev,mac=02:00:00:00:00:02"))
        #expect(!args.joined(separator: " ").contains("ifname="))
        #expect(p.servers.map(\.name) == ["a-entropy0"])
        // The guest's init finds the interface by its MAC.
        #expect(launch.command.kernelArguments.contains("avp.ip=02:00:00:00:00:01,10.1.0.2/24"))

        let micro = try plan(vm("{type: net, host-device: 'macvtap:eth1', mac: '02:00:00:00:00:01'}", machine: "microvm"))
        #expect(micro.vms[0].command.arguments.contains("virtio-net-device,netdev=net0-net,id=net0-dev,mac=02:00:00:00:00:01"))
    }

    @Test("AVPS-v2.0-9 (partial: configuration only): a macvtap name too long for Linux is a hash that stays the same")
    func longMacvtapNames() {
        #expect(Macvtap.name(platform: "car", vm: "ivi", index: 3) == "avp-ivi-3")
        let long = Macvtap.name(platform: "car", vm: "instrument-cluster", index: 3)
        #expect(long.hasPrefix("avp-") && long.utf8.count == 12 && long == Macvtap.name(platform: "car", vm: "instrument-cluster", index: 3))
        #expect(long != Macvtap.name(platform: "car", vm: "instrument-cluster", index: 4))
    }

    @Test("AVPS-v2.0-9 (partial: configuration only): avp check refuses bad addresses, unknown host devices and inapplicable options")
    func badHostDevices() {
        let cases: [(String, String)] = [
            ("{type: net, host-device: 'vfio:03:00'}", "'03:00' is not a PCI address"),
            ("{type: net, host-device: 'vfio:0000:03:20.0'}", "'0000:03:20.0' is not a PCI address"),   // device > 1f
            ("{type: net, host-device: 'vfio:0000:03:00.8'}", "'0000:03:00.8' is not a PCI address"),   // function > 7
            ("{type: net, host-device: 'vfio:00000:03:00.0'}", "is not a PCI address"),
            ("{type: net, host-device: 'vfio:'}", "'' is not a PCI address"),
            ("{type: net, host-device: 'tap:eth1'}", "'tap:eth1' is not a host network device"),
            ("{type: net, host-device: 'macvtap:a/b'}", "'a/b' is not a network interface name"),
            ("{type: net, host-device: 'macvtap:sixteen-letters-'}", "'sixteen-letters-' is not a network interface name: an interface name has 1 to 15 characters"),
            ("{type: net, network: lan, host-device: 'vfio:03:00.0'}", "a net device attaches to a network or to a host device, not both"),
            ("{type: net, host-device: 'vfio:03:00.0', mac: '02:00:00:00:00:01'}", "'mac' does not apply to this host device"),
            ("{type: net, host-device: 'macvtap:eth1', mtu: 9000}", "'mtu' does not apply to this host device"),
            ("{type: net}", "a net device needs a network or a host device"),
        ]
        for (device, message) in cases {
            let e = errors(s.load(vm(device)))
            #expect(e.contains { $0.contains(message) }, "\(device): \(e)")
        }
    }

    @Test("AVPS-v2.0-9 (partial: configuration only): a host NIC goes to one VM once; VFIO needs q35")
    func oneOwnerAndAPCIBus() {
        let twoVMs = s.load("""
            profile: development
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: net, host-device: 'vfio:0000:03:00.0'}, {type: net, host-device: 'macvtap:eth1'}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: net, host-device: 'vfio:03:00.0'}, {type: net, host-device: 'macvtap:eth1'}]}
            """)
        let e = errors(twoVMs)
        // Written in two forms, one function: the normalised address is what is claimed.
        #expect(e.contains { $0.hasPrefix("4:") && $0.contains("PCI function 0000:03:00.0 is already passed through to VM 'a'") }, "\(e)")
        #expect(e.contains { $0.contains("host interface eth1 is already dedicated to VM 'a'") }, "\(e)")
        let twice = errors(s.load(vm("{type: net, host-device: 'vfio:03:00.0'}, {type: usb-host, pci: '0000:03:00.0'}")))
        #expect(twice.contains { $0.contains("PCI function 0000:03:00.0 is already passed through to VM 'a'") }, "\(twice)")

        let micro = errors(s.load(vm("{type: net, host-device: 'vfio:03:00.0'}", machine: "microvm")))
        #expect(micro.contains { $0.contains("VM 'a' is a microvm, which has no PCI bus: a network interface needs a PCI slot") }, "\(micro)")
        let arm = errors(s.load(vm("{type: net, host-device: 'vfio:03:00.0'}", machine: "virt", arch: "aarch64")))
        #expect(arm.contains { $0.contains("VM 'a' is an aarch64 VM (machine virt), whose devices are virtio-mmio only") }, "\(arm)")
        // A macvtap is a virtio-net: any machine.
        #expect(errors(s.load(vm("{type: net, host-device: 'macvtap:eth1'}", machine: "microvm"))).isEmpty)
    }

    @Test("AVPS-v2.0-9 (partial: configuration only): a NIC this host does not have is a warning, not an error")
    func missingHostNICIsAWarning() throws {
        // Domain ffff, bus ff: no PC has it; nor an interface of this name.
        let r = s.load(vm("{type: net, host-device: 'vfio:ffff:ff:1f.7'}, {type: net, host-device: 'macvtap:avpnosuchif0'}"))
        #expect(r.errors.isEmpty, "\(errors(r))")
        #expect(r.platform != nil)
        let warnings = r.diagnostics.filter { $0.severity == .warning }.map(\.message)
        #expect(warnings.contains { $0.contains("PCI function ffff:ff:1f.7 (a network interface) does not exist on this host") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("host interface avpnosuchif0 does not exist on this host") }, "\(warnings)")
        // avp describe does not look at the host.
        #expect(s.load(vm("{type: net, host-device: 'vfio:ffff:ff:1f.7'}"), checkingFiles: false).diagnostics.filter { $0.severity == .warning }
            .allSatisfy { !$0.message.contains("does not exist on this host") })
    }
}
