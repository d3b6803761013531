/// A USB host controller passed through to one VM ({AVPS-v2.0-33}: "statically configurable
/// pass-through access to each USB host controller"): a host PCI function (an xHCI, say)
/// given whole to the VM with VFIO, configured in the platform file (`pci:`). The guest's own
/// USB stack drives the controller and every device behind its ports; no AVP server, no
/// virtio device. q35 VMs only: microvm has no PCI bus and AVP's aarch64 VMs are virtio-mmio.
/// Runtime requests for USB access ({AVPS-v2.0-34}, a MAY) are not offered.
enum UsbHostKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var function: PCIAddress
    }

    static let kind = DeviceKind.usbHost
    static let virtioID = NoVirtioDevice.hostHardware
    static let pci = OptionKey<String>("pci", .string(
        "The host PCI function of the USB host controller passed through with VFIO (usb-host): DDDD:BB:DD.F as 'lspci -D' prints it."))
    static let options: [any DeviceOption] = [pci]
    static let sharedServers = SharedServers.refused(reason: "a USB host controller passed through belongs to one VM; there is no server",
                                                     fix: "declare it under the VM's devices as '- type: usb-host' with 'pci:'")
    static let perVM = PerVMRule(noun: "a USB host controller")

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard let text = options[pci] else {
            rules.error(nil, "a usb-host device needs the controller's PCI address", fix: "add 'pci: DDDD:BB:DD.F' (lspci -D lists the USB controllers)")
            return nil
        }
        return rules.vfioFunction(text, option: pci.name, what: "a USB host controller").map(Settings.init)
    }

    static func hostDevice(_ settings: Settings) -> HostDevice? { .vfio(settings.function) }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { "" }   // no server: `hostDevice`

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        plan.hostDevice(.vfio(slot.settings.function), id: slot.id(kind))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,host-device", .string(HostDevice.vfio(settings.function).description))]
    }
}
