import ServerCommands

/// The rules for host hardware a platform file gives to a VM ({AVPS-v2.0-9}, {AVPS-v2.0-33}):
/// one owner on the platform, a machine with a PCI bus for VFIO, and — as warnings, since a
/// platform file may be written for another machine — what this host's sysfs says.
extension KindRules {
    /// A PCI function for VFIO written at `option`: parsed and normalised (`BB:DD.F` gets
    /// domain 0000), given once on the platform, on a q35 VM. `what` names it in messages
    /// ("a USB host controller").
    mutating func vfioFunction(_ text: String, option: String?, what: String) -> PCIAddress? {
        guard let address = PCIAddress(text) else {
            error(option, "\(UserText.quoted(text)) is not a PCI address",
                  fix: "write DDDD:BB:DD.F (domain, bus, device, function in hexadecimal) as 'lspci -D' prints it, e.g. 0000:03:00.0")
            return nil
        }
        guard requirePCIBus(for: what, option: option) else { return nil }
        if let other = claim(address.description, in: "host-pci") {
            error(option, "PCI function \(address) is already passed through to \(other)",
                  fix: "give each host device to one VM, once")
            return nil
        }
        if checkFiles { warnAboutHost(address, what: what, option: option) }
        return address
    }

    /// A host interface for a macvtap in passthru mode, written at `option`: a valid
    /// interface name, dedicated to one VM on the platform.
    mutating func dedicatedInterface(_ name: String, option: String?) -> String? {
        if let problem = InterfaceName.problem(name) {
            error(option, "\(UserText.quoted(name)) is not a network interface name: \(problem)", fix: "write the host interface as 'ip link' lists it, e.g. macvtap:eth1")
            return nil
        }
        if let other = claim(name, in: "host-interface") {
            error(option, "host interface \(name) is already dedicated to \(other)",
                  fix: "a macvtap in passthru mode takes the whole interface: give it to one VM")
            return nil
        }
        if checkFiles, !host.hasInterface(name) {
            warning(option, "host interface \(name) does not exist on this host; avp up will refuse to start the VM here",
                    fix: "check the name with 'ip link' (ignore this if the file is for another machine)")
        }
        return name
    }

    /// A VFIO function needs q35: microvm has no PCI bus, and AVP's aarch64 (virt) VMs have
    /// virtio-mmio devices only.
    private mutating func requirePCIBus(for what: String, option: String?) -> Bool {
        guard case let .vm(vm, _) = user else {
            error(option, "\(what) belongs to one VM, not to a shared server", fix: "declare it under the VM's devices")
            return false
        }
        switch machine {
        case .q35?, nil:
            return true
        case .microvm?:
            error(option, "VM '\(vm)' is a microvm, which has no PCI bus: \(what) needs a PCI slot",
                  fix: "use 'machine: q35' for this VM")
        case .virt?:
            error(option, "VM '\(vm)' is an aarch64 VM (machine virt), whose devices are virtio-mmio only: \(what) needs a PCI slot",
                  fix: "pass it through to an x86_64 VM (machine q35)")
        }
        return false
    }

    private mutating func warnAboutHost(_ address: PCIAddress, what: String, option: String?) {
        let later = "avp up will refuse to start the VM on this host"
        let elsewhere = "(ignore this if the file is for another machine)"
        guard host.exists(address) else {
            warning(option, "PCI function \(address) (\(what)) does not exist on this host; \(later)",
                    fix: "check the address with 'lspci -D' \(elsewhere)")
            return
        }
        let driver = host.driver(address)
        if driver != "vfio-pci" {
            warning(option, "PCI function \(address) (\(what)) is \(driver.map { "bound to \($0)" } ?? "not bound to a driver"), not to vfio-pci; \(later)",
                    fix: "bind it to vfio-pci before avp up, e.g. 'driverctl set-override \(address) vfio-pci' \(elsewhere)")
        }
    }
}
