/// Host hardware on a VM's QEMU command line ({AVPS-v2.0-9}, {AVPS-v2.0-33}): no vhost-user
/// back end, no AVP server. It sits among the vhost-user devices in platform-file order, so
/// q35 gives it the PCI slot the device tree says (`VirtualHardware`).
public struct QemuHostDevice: Sendable, Equatable {
    public enum Backing: Sendable, Equatable {
        /// A host PCI function passed through whole with VFIO.
        case vfio(PCIAddress)
        /// QEMU's virtio-net on a tap file descriptor it inherits from AVP (a macvtap's
        /// /dev/tapN, `Macvtap`); this MAC is the macvtap's.
        case tap(fd: Int32, mac: String)
    }

    public var backing: Backing
    public var id: String
    /// How many of the VM's vhost-user devices come before it on the command line.
    public var position: Int

    public init(backing: Backing, id: String, position: Int) {
        self.backing = backing
        self.id = id
        self.position = position
    }

    public func arguments(on machine: QemuCommandLine.Machine) -> [String] {
        switch backing {
        case let .vfio(address):
            // QEMU opens /dev/vfio/vfio and the function's group, /dev/vfio/N, itself.
            return ["-device", "vfio-pci,host=\(address),id=\(id)-dev"]
        case let .tap(fd, mac):
            // script=no and downscript=no are implied with fd=; QEMU neither creates nor configures the tap.
            let model = machine == .q35 ? "virtio-net-pci" : "virtio-net-device"
            return ["-netdev", "tap,id=\(id)-net,fd=\(fd)",
                    "-device", "\(model),netdev=\(id)-net,id=\(id)-dev,mac=\(mac)"]
        }
    }
}
