import SystemCalls

/// A VM's virtual hardware as a device tree (AVPS-v2.0-3): memory, CPUs, each
/// virtio device on its transport (PCI functions on q35, virtio-mmio windows on
/// microvm; Arm's virt machine is `ArmVirtHardware`) with the AVP server behind it, and /chosen with the boot arguments, a
/// fresh 64-bit kaslr-seed (AVPS-v2.0-42) and an rng-seed, both from getrandom(2).
public enum VirtualHardware {
    /// Guest RAM below this address on both machines; the rest goes above 4 GiB.
    static let lowMemoryLimit: UInt64 = 0xB000_0000
    static let pciECAM: UInt64 = 0xB000_0000
    /// microvm's virtio-mmio windows (QEMU hw/i386/microvm.c): 512 bytes each from here, GSI 16 up.
    static let mmioBase: UInt64 = 0xFEB0_0000
    static let mmioSize: UInt64 = 0x200

    /// An AVP device on its transport: its virtio device ID, the properties naming the AVP
    /// device and server behind it, and the SCMI topology if it is an SCMI device.
    struct PlacedDevice {
        /// Its virtio device ID; nil for host hardware passed through (a PCI function of the host's).
        var id: UInt32?
        var properties: [(String, DeviceTreeNode.Value)]
        var scmi: ScmiTopology?
    }

    /// The VM's devices in the order QEMU places them (vhost-user devices, then virtio-serial consoles).
    static func placedDevices(platform: Platform, vm: Platform.VM) -> [PlacedDevice] {
        vm.devices.enumerated()
            .sorted { ($0.element.kind.definition.perVM.placedLast ? 1 : 0, $0.offset) < ($1.element.kind.definition.perVM.placedLast ? 1 : 0, $1.offset) }
            .map { index, device in
                let definition = device.kind.definition
                let settings = platform.settings(of: device)
                let id = definition.guestVirtioID(of: settings)?.rawValue
                return PlacedDevice(
                    id: id,
                    properties: [("avp,device", .string(device.kind.rawValue))] + (id.map { [("avp,virtio-device-id", .cells([$0]))] } ?? [])
                        + (platform.serverName(of: device, in: vm, at: index).map { [("avp,server", .string($0))] } ?? [])
                        + (settings.map { definition.deviceTreeProperties(of: $0) } ?? []),
                    scmi: (settings as? ScmiTopologyProviding)?.scmiTopology)
            }
    }

    /// The kernel command line the VM boots with.
    static func bootArguments(vm: Platform.VM, plan: PlatformPlan.VMLaunch?) -> String {
        (plan?.command.fullKernelArguments ?? vm.cmdline.split(separator: " ").map(String.init)).joined(separator: " ")
    }

    public static func deviceTree(platform: Platform, vm: Platform.VM, plan: PlatformPlan.VMLaunch?) throws -> DeviceTreeNode {
        if vm.machine == .virt { return try ArmVirtHardware.deviceTree(platform: platform, vm: vm, plan: plan) }
        var chosen = DeviceTreeNode("chosen", properties: [
            ("bootargs", .string(bootArguments(vm: vm, plan: plan))),
            ("kaslr-seed", .u64(try SystemRandom.uint64())),
            ("rng-seed", .bytes(try SystemRandom.bytes(64))),
        ])
        if vm.hasConsole { chosen.properties.append(("stdout-path", .string("/virtio-console"))) }

        let memory = UInt64(vm.memoryMiB) << 20
        var memoryNodes: [DeviceTreeNode] = []
        let low = min(memory, lowMemoryLimit)
        memoryNodes.append(DeviceTreeNode("memory@0", properties: [
            ("device_type", .string("memory")), ("reg", .cells(cells64(0) + cells64(low)))]))
        if memory > low {
            memoryNodes.append(DeviceTreeNode("memory@100000000", properties: [
                ("device_type", .string("memory")), ("reg", .cells(cells64(1 << 32) + cells64(memory - low)))]))
        }

        let cpus = DeviceTreeNode("cpus", properties: [("#address-cells", .cells([1])), ("#size-cells", .cells([0]))],
                                  children: (0..<vm.cpus).map { i in
                                      DeviceTreeNode("cpu@\(i)", properties: [
                                          ("device_type", .string("cpu")), ("compatible", .string("x86-64")), ("reg", .cells([UInt32(i)]))])
                                  })

        let devices = placedDevices(platform: platform, vm: vm)

        var children = [chosen] + memoryNodes + [cpus]
        switch vm.machine {
        case .microvm:
            for (slot, device) in devices.enumerated() {
                let address = mmioBase + UInt64(slot) * mmioSize
                children.append(DeviceTreeNode("virtio_mmio@\(String(address, radix: 16))", properties: [
                    ("compatible", .string("virtio,mmio")), ("reg", .cells(cells64(address) + cells64(mmioSize))),
                    ("interrupts", .cells([16 + UInt32(slot)]))] + device.properties))
            }
        case .virt:
            break   // ArmVirtHardware
        case .q35:
            let functions = devices.enumerated().map { slot, device in
                // Slot 0 is the host bridge; devices follow in command-line order. Modern
                // virtio-pci device IDs are 0x1040 plus the virtio device ID (VIRTIO 1.2 §4.1.2.1);
                // a host PCI function passed through keeps its own IDs (`avp,host-device` names it).
                let reg: (String, DeviceTreeNode.Value) = ("reg", .cells([UInt32(slot + 1) << 11, 0, 0, 0, 0]))
                guard let id = device.id else { return DeviceTreeNode("pci@\(slot + 1),0", properties: [reg] + device.properties) }
                return DeviceTreeNode("virtio@\(slot + 1),0", properties: [
                    ("compatible", .string("pci1af4,\(String(0x1040 + id, radix: 16))")), reg] + device.properties)
            }
            children.append(DeviceTreeNode("pcie@\(String(pciECAM, radix: 16))", properties: [
                ("compatible", .string("pci-host-ecam-generic")), ("device_type", .string("pci")),
                ("#address-cells", .cells([3])), ("#size-cells", .cells([2])), ("bus-range", .cells([0, 255])),
                ("reg", .cells(cells64(pciECAM) + cells64(0x1000_0000)))], children: functions))
        }

        return DeviceTreeNode("", properties: [
            ("#address-cells", .cells([2])), ("#size-cells", .cells([2])),
            ("compatible", .strings(["avp,virtual-platform", "avp,\(vm.machine.rawValue)"])),
            ("model", .string("AVP virtual platform \(platform.name)/\(vm.name) (\(platform.profile.rawValue))")),
        ], children: children)
    }

    static func cells64(_ v: UInt64) -> [UInt32] { [UInt32(v >> 32), UInt32(truncatingIfNeeded: v)] }
}
