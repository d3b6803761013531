import Foundation
import Platform
import Testing

/// USB host-controller pass-through ({AVPS-v2.0-33}) as configuration: `- type: usb-host`
/// with `pci:` becomes `-device vfio-pci` on q35 and `avp check` diagnostics. No controller
/// is passed through here (the test machine has none to spare).
@Suite struct PassthroughUsb {
    let s: Scratch
    init() throws { s = try Scratch() }

    func vm(_ devices: String, machine: String = "q35", arch: String = "x86_64") -> String {
        """
        profile: production
        vms:
          - {name: a, arch: \(arch), machine: \(machine), kernel: vmlinuz, initrd: initrd, devices: [\(devices)]}
        """
    }

    @Test("AVPS-v2.0-33 (partial: configuration only): a USB host controller is -device vfio-pci on q35, no server, even in production")
    func controllerOnQ35() throws {
        let p = try s.plan(vm("{type: entropy}, {type: usb-host, pci: '00:14.0'}, {type: usb-host, pci: 0000:3A:00.3}"),
                           stateDirectory: "/tmp/avp-test-state")
        let args = p.vms[0].command.arguments
        let first = try #require(args.firstIndex(of: "vfio-pci,host=0000:00:14.0,id=usb-host1-dev"), "\(args)")
        #expect(args[first - 1] == "-device")
        #expect(Array(args[(first + 1)...(first + 2)]) == ["-device", "vfio-pci,host=0000:3a:00.3,id=usb-host2-dev"])
        #expect(args.firstIndex(of: "socket,id=entropy0,path=/tmp/avp-test-state/sockets/a-entropy0.sock,server=on,wait=on")! < first)
        #expect(p.servers.map(\.name) == ["a-entropy0"] && p.vms[0].servers == ["a-entropy0"])
        try ProductionLockdown.verify(args)

        let platform = try #require(s.load(vm("{type: entropy}, {type: usb-host, pci: '00:14.0'}")).platform)
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil)
        let functions = try #require(tree.children.first { $0.name.hasPrefix("pcie@") }).children
        #expect(functions.map(\.name) == ["virtio@1,0", "pci@2,0"])
        #expect(functions[1].property("avp,device") == .string("usb-host"))
        #expect(functions[1].property("avp,host-device") == .string("vfio:0000:00:14.0"))
        #expect(functions[1].property("avp,virtio-device-id") == nil && functions[1].property("avp,server") == nil)
    }

    @Test("AVPS-v2.0-33 (partial: configuration only): avp check refuses a controller without an address, with a bad one, twice, or on a VM without PCI")
    func checkErrors() {
        let cases: [(String, String, String, String)] = [
            ("{type: usb-host}", "q35", "x86_64", "a usb-host device needs the controller's PCI address"),
            ("{type: usb-host, pci: '0:14.0'}", "q35", "x86_64", "'0:14.0' is not a PCI address"),
            ("{type: usb-host, pci: '00:14.0:1'}", "q35", "x86_64", "'00:14.0:1' is not a PCI address"),
            ("{type: usb-host, pci: 'gg:14.0'}", "q35", "x86_64", "'gg:14.0' is not a PCI address"),
            ("{type: usb-host, pci: '00:14.0'}, {type: usb-host, pci: '0000:00:14.0'}", "q35", "x86_64",
             "PCI function 0000:00:14.0 is already passed through to VM 'a'"),
            ("{type: usb-host, pci: '00:14.0'}", "microvm", "x86_64", "VM 'a' is a microvm, which has no PCI bus: a USB host controller needs a PCI slot"),
            ("{type: usb-host, pci: '00:14.0'}", "virt", "aarch64",
             "VM 'a' is an aarch64 VM (machine virt), whose devices are virtio-mmio only: a USB host controller needs a PCI slot"),
            ("{type: usb-host, pci: '00:14.0', host-device: 'vfio:00:14.0'}", "q35", "x86_64", "'host-device' is not an option of usb-host devices"),
        ]
        for (devices, machine, arch, message) in cases {
            let e = errors(s.load(vm(devices, machine: machine, arch: arch)))
            #expect(e.contains { $0.contains(message) }, "\(devices) on \(machine): \(e)")
        }
        let shared = errors(s.load("""
            profile: development
            servers: [{name: usb, type: usb-host}]
            vms: [{name: a, kernel: vmlinuz, initrd: initrd}]
            """))
        #expect(shared.contains { $0.contains("a USB host controller passed through belongs to one VM; there is no server") }, "\(shared)")
    }

    @Test("AVPS-v2.0-33 (partial: configuration only): the platform schema offers usb-host with its pci option")
    func schema() {
        let schema = PlatformSchema.jsonSchema()
        #expect(schema.contains("\"usb-host\""))
        #expect(schema.contains("\"pci\" : {") && schema.contains("\"host-device\" : {"))
    }
}
