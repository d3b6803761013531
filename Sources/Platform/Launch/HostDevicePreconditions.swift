import Foundation

/// What `avp up` needs from this host before it starts VMs with host hardware ({AVPS-v2.0-9},
/// {AVPS-v2.0-33}). `avp check` only warns about these (a platform file may be written for
/// another machine); here they are errors, before QEMU would fail on them less clearly.
public enum HostDevicePreconditions {
    /// `devices` is `/dev` (a test gives a directory of its own).
    public static func verify(_ plan: PlatformPlan, host: HostPCI = HostPCI(), devices: String = "/dev") throws(PlatformError) {
        for vm in plan.vms {
            for device in vm.command.hostDevices {
                guard case let .vfio(address) = device.backing else { continue }
                try verifyVFIO(address, vm: vm.name, host: host, devices: devices)
            }
            for tap in vm.macvtaps where !host.hasInterface(tap.parent) {
                throw .launchFailed("VM '\(vm.name)' is given host interface \(tap.parent) (macvtap), which this host does not have; check 'ip link'")
            }
        }
    }

    private static func verifyVFIO(_ address: PCIAddress, vm: String, host: HostPCI, devices: String) throws(PlatformError) {
        let what = "VM '\(vm)' is given PCI function \(address) with VFIO"
        guard FileManager.default.fileExists(atPath: devices + "/vfio/vfio") else {
            throw .launchFailed("\(what), but \(devices)/vfio/vfio does not exist: enable the IOMMU (intel_iommu=on or amd_iommu=on) and load vfio-pci (modprobe vfio-pci)")
        }
        guard host.exists(address) else {
            throw .launchFailed("\(what), but this host has no such function; check 'lspci -D'")
        }
        let driver = host.driver(address)
        guard driver == "vfio-pci" else {
            throw .launchFailed("\(what), but it is \(driver.map { "bound to \($0)" } ?? "not bound to a driver"), not to vfio-pci; "
                + "bind it first, e.g. 'driverctl set-override \(address) vfio-pci'")
        }
        guard let group = host.iommuGroup(address), FileManager.default.fileExists(atPath: "\(devices)/vfio/\(group)") else {
            throw .launchFailed("\(what), but its IOMMU group has no \(devices)/vfio/N device; is the IOMMU enabled?")
        }
    }
}
