import Foundation
import SystemCalls

/// The device tree an aarch64 VM boots with (`-dtb`, {AVPS-v2.0-3}): QEMU 10.0's
/// `-M virt,gic-version=3` hardware at exactly the addresses and interrupts QEMU places it
/// (hw/arm/virt.c `base_memmap`, `a15irqmap`; the test compares with `dumpdtb`), AVP's
/// devices named on the virtio-mmio transports they occupy, `/firmware/scmi` when the VM has
/// an SCMI device, and `/chosen` with a fresh kaslr-seed ({AVPS-v2.0-42}) and rng-seed.
///
/// What QEMU changes in a `-dtb` tree as it loads it (hw/arm/boot.c `arm_load_dtb`): it
/// replaces the memory nodes and `/psci` with its own (the same values as here), sets
/// `/chosen/bootargs` from `-append`, adds `linux,initrd-start/-end`, and re-randomizes every
/// `kaslr-seed` and `rng-seed` on each reset. Left out on purpose: the PCIe host and the
/// GIC's ITS (AVP puts no device on PCI, so no MSIs), the platform bus (no dynamic sysbus
/// devices), and the PL011 where the profile forbids a serial console ({AVPS-v2.0-48}).
public enum ArmVirtHardware {
    static let flashBase: UInt64 = 0, flashBankSize: UInt64 = 0x400_0000
    static let gicDistributor: UInt64 = 0x800_0000, gicDistributorSize: UInt64 = 0x1_0000
    static let gicRedistributors: UInt64 = 0x80a_0000, gicRedistributorsSize: UInt64 = 0xf6_0000
    static let uart: UInt64 = 0x900_0000, rtc: UInt64 = 0x901_0000, fwCfg: UInt64 = 0x902_0000, gpio: UInt64 = 0x903_0000
    /// The 32 virtio-mmio transports, 512 bytes each; transport i raises SPI 16 + i.
    public static let mmioBase: UInt64 = 0xa00_0000
    public static let mmioSize: UInt64 = 0x200
    public static let mmioTransports = 32
    /// Guest RAM starts here.
    public static let memoryBase: UInt64 = 0x4000_0000

    /// Linux's GIC binding: interrupt type (0 SPI, 1 PPI), number, flags (1 edge rising, 4 level high).
    static let spi: UInt32 = 0, ppi: UInt32 = 1, edgeRising: UInt32 = 1, levelHigh: UInt32 = 4

    /// The transport QEMU gives the n-th virtio-mmio device of the command line: the highest
    /// first (virt creates the transports from the top, so the bus scan finds 31 first).
    public static func transport(ofDevice n: Int) -> Int { mmioTransports - 1 - n }

    public static func deviceTree(platform: Platform, vm: Platform.VM, plan: PlatformPlan.VMLaunch?) throws -> DeviceTreeNode {
        let devices = VirtualHardware.placedDevices(platform: platform, vm: vm)
        let scmi = devices.lazy.compactMap(\.scmi).first
        // The PL011 exists in the tree only where the VM may have a serial console.
        let serialConsole: Bool = {
            if let plan { if case .none = plan.command.serial { return false } else { return true } }
            return platform.profile != .production
        }()
        let kvm = plan?.command.accelerator == .kvm

        var chosen = DeviceTreeNode("chosen", properties: [
            ("bootargs", .string(VirtualHardware.bootArguments(vm: vm, plan: plan))),
            ("kaslr-seed", .u64(try SystemRandom.uint64())),
            ("rng-seed", .bytes(try SystemRandom.bytes(64))),
        ])
        var children: [DeviceTreeNode] = []
        if serialConsole {
            chosen.properties.append(("stdout-path", .string("/pl011@9000000")))
            children.append(DeviceTreeNode("aliases", properties: [("serial0", .string("/pl011@9000000"))]))
        }
        children.append(chosen)
        children.append(DeviceTreeNode("memory@\(hex(memoryBase))", properties: [
            ("device_type", .string("memory")), ("reg", .cells(cells64(memoryBase) + cells64(UInt64(vm.memoryMiB) << 20)))]))
        children.append(cpus(count: vm.cpus, compatible: kvm ? "arm,arm-v8" : "arm,cortex-a57", clocks: ScmiFirmwareNode.cpuClocks(scmi)))
        children.append(DeviceTreeNode("psci", properties: [
            // PSCI 1.0 through HVC: QEMU's firmware emulation at EL2 (TCG without EL2, or KVM).
            ("compatible", .strings(["arm,psci-1.0", "arm,psci-0.2", "arm,psci"])), ("method", .string("hvc")),
            ("cpu_suspend", .cells([0xc400_0001])), ("cpu_off", .cells([0x8400_0002])),
            ("cpu_on", .cells([0xc400_0003])), ("migrate", .cells([0xc400_0005])),
        ]))
        children.append(DeviceTreeNode("intc@\(hex(gicDistributor))", label: "gic", properties: [
            ("compatible", .string("arm,gic-v3")), ("#interrupt-cells", .cells([3])), ("interrupt-controller", .empty),
            ("#address-cells", .cells([2])), ("#size-cells", .cells([2])), ("ranges", .empty),
            ("#redistributor-regions", .cells([1])),
            ("reg", .cells(cells64(gicDistributor) + cells64(gicDistributorSize) + cells64(gicRedistributors) + cells64(gicRedistributorsSize))),
        ]))
        children.append(DeviceTreeNode("timer", properties: [
            ("compatible", .strings(["arm,armv8-timer", "arm,armv7-timer"])), ("always-on", .empty),
            // Secure, non-secure, virtual and hypervisor physical timers: PPIs 13, 14, 11, 10.
            ("interrupts", .cells([ppi, 13, levelHigh, ppi, 14, levelHigh, ppi, 11, levelHigh, ppi, 10, levelHigh])),
        ]))
        children.append(DeviceTreeNode("pmu", properties: [
            ("compatible", .string("arm,armv8-pmuv3")), ("interrupts", .cells([ppi, 7, levelHigh]))]))
        children.append(DeviceTreeNode("apb-pclk", label: "apb_pclk", properties: [
            ("compatible", .string("fixed-clock")), ("#clock-cells", .cells([0])), ("clock-frequency", .cells([24_000_000])),
            ("clock-output-names", .string("clk24mhz"))]))
        children.append(DeviceTreeNode("flash@0", properties: [
            ("compatible", .string("cfi-flash")), ("bank-width", .cells([4])),
            ("reg", .cells(cells64(flashBase) + cells64(flashBankSize) + cells64(flashBase + flashBankSize) + cells64(flashBankSize)))]))
        if serialConsole {
            children.append(primecell("pl011@\(hex(uart))", compatible: "arm,pl011", reg: uart, spi: 1, level: true,
                                      clocks: ["uartclk", "apb_pclk"]))
        }
        children.append(primecell("pl031@\(hex(rtc))", compatible: "arm,pl031", reg: rtc, spi: 2, level: true, clocks: ["apb_pclk"]))
        // The power button QEMU's system_powerdown presses (GPIO 3 of the PL061, KEY_POWER).
        var pl061 = primecell("pl061@\(hex(gpio))", compatible: "arm,pl061", reg: gpio, spi: 7, level: true, clocks: ["apb_pclk"])
        pl061.label = "pl061"
        pl061.properties += [("gpio-controller", .empty), ("#gpio-cells", .cells([2]))]
        children.append(pl061)
        children.append(DeviceTreeNode("gpio-keys", properties: [("compatible", .string("gpio-keys"))], children: [
            DeviceTreeNode("poweroff", properties: [
                ("label", .string("GPIO Key Poweroff")), ("linux,code", .cells([116])),
                ("gpios", .references([.reference("pl061"), .number(3), .number(0)]))]),
        ]))
        children.append(DeviceTreeNode("fw-cfg@\(hex(fwCfg))", properties: [
            ("compatible", .string("qemu,fw-cfg-mmio")), ("reg", .cells(cells64(fwCfg) + cells64(0x18))), ("dma-coherent", .empty)]))
        for index in 0..<mmioTransports {
            let address = mmioBase + UInt64(index) * mmioSize
            let device = devices.indices.first { transport(ofDevice: $0) == index }.map { devices[$0] }
            children.append(DeviceTreeNode("virtio_mmio@\(hex(address))", properties: [
                ("compatible", .string("virtio,mmio")), ("reg", .cells(cells64(address) + cells64(mmioSize))),
                ("interrupts", .cells([spi, 16 + UInt32(index), edgeRising])), ("dma-coherent", .empty),
            ] + (device?.properties ?? [])))
        }
        if let scmi { children.append(ScmiFirmwareNode.firmware(scmi)) }

        return DeviceTreeNode("", properties: [
            ("#address-cells", .cells([2])), ("#size-cells", .cells([2])),
            ("compatible", .strings(["avp,virtual-platform", "avp,virt", "linux,dummy-virt"])),
            ("model", .string("AVP virtual platform \(platform.name)/\(vm.name) (\(platform.profile.rawValue))")),
            ("interrupt-parent", .references([.reference("gic")])), ("dma-coherent", .empty),
        ], children: children)
    }

    /// Writes the tree for this boot of `launch` (a fresh kaslr-seed and rng-seed) to its `-dtb`
    /// path, replacing the last boot's atomically; returns what it wrote. Does nothing for
    /// machines that boot without AVP's tree.
    @discardableResult
    public static func writeBootTree(platform: Platform, launch: PlatformPlan.VMLaunch) throws -> DeviceTreeNode? {
        guard let path = launch.command.dtb, let vm = platform.vm(named: launch.name) else { return nil }
        let tree = try deviceTree(platform: platform, vm: vm, plan: launch)
        try Data(FlattenedDeviceTree.encode(tree)).write(to: URL(fileURLWithPath: path), options: .atomic)
        return tree
    }

    /// cpus with the topology QEMU gives `-smp N` on virt (one socket, one cluster, N cores).
    static func cpus(count: Int, compatible: String, clocks: (String, DeviceTreeNode.Value)?) -> DeviceTreeNode {
        let cores = (0..<count).map { i in
            DeviceTreeNode("core\(i)", properties: [("cpu", .references([.reference("cpu\(i)")]))])
        }
        let map = DeviceTreeNode("cpu-map", children: [
            DeviceTreeNode("socket0", children: [DeviceTreeNode("cluster0", children: cores)])])
        return DeviceTreeNode("cpus", properties: [("#address-cells", .cells([1])), ("#size-cells", .cells([0]))],
                              children: [map] + (0..<count).map { i in
            DeviceTreeNode("cpu@\(String(i, radix: 16))", label: "cpu\(i)", properties: [
                ("device_type", .string("cpu")), ("compatible", .string(compatible)), ("enable-method", .string("psci")),
                ("reg", .cells([UInt32(i)])),
            ] + (clocks.map { [$0] } ?? []))
        })
    }

    /// An AMBA PrimeCell peripheral clocked by apb-pclk.
    static func primecell(_ name: String, compatible: String, reg: UInt64, spi number: UInt32, level: Bool,
                          clocks names: [String]) -> DeviceTreeNode {
        DeviceTreeNode(name, properties: [
            ("compatible", .strings([compatible, "arm,primecell"])), ("reg", .cells(cells64(reg) + cells64(0x1000))),
            ("interrupts", .cells([spi, number, level ? levelHigh : edgeRising])),
            ("clocks", .references(names.map { _ in .reference("apb_pclk") })),
            ("clock-names", names.count == 1 ? .string(names[0]) : .strings(names)),
        ])
    }

    static func hex(_ v: UInt64) -> String { String(v, radix: 16) }
    static func cells64(_ v: UInt64) -> [UInt32] { [UInt32(v >> 32), UInt32(truncatingIfNeeded: v)] }
}
