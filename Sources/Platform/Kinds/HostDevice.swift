import Virtio

/// Host hardware a VM is given instead of a device an AVP server emulates: a network
/// interface dedicated to one VM ({AVPS-v2.0-9}) or a USB host controller passed through
/// ({AVPS-v2.0-33}). No AVP server stands behind it; the platform only configures QEMU.
public enum HostDevice: Sendable, Equatable, CustomStringConvertible {
    /// A PCI function passed through whole with VFIO: the guest's own driver drives the
    /// hardware, isolated by the host's IOMMU (`-device vfio-pci,host=…`).
    case vfio(PCIAddress)
    /// A macvtap in passthru mode on this host interface: the interface is the VM's alone,
    /// the guest sees a virtio-net on the macvtap's tap file descriptor (AVP opens it).
    case macvtap(parent: String)

    /// As the platform file writes it: `vfio:0000:03:00.0`, `macvtap:eth1`.
    public var description: String {
        switch self {
        case let .vfio(address): "vfio:\(address)"
        case let .macvtap(parent): "macvtap:\(parent)"
        }
    }

    /// The virtio device the guest sees: none for a PCI function of the host's own.
    var virtioID: VirtioDeviceType? {
        switch self {
        case .vfio: nil
        case .macvtap: .network
        }
    }
}

/// A kind's virtio device ID (`VirtioDeviceType`), or `NoVirtioDevice` for a kind whose
/// devices are host hardware passed through and have none.
protocol VirtioIdentity: Sendable {
    var deviceType: VirtioDeviceType? { get }
}

extension VirtioDeviceType: VirtioIdentity {
    var deviceType: VirtioDeviceType? { self }
}

/// The `virtioID` of a kind whose devices are host hardware (usb-host).
enum NoVirtioDevice: VirtioIdentity {
    case hostHardware
    var deviceType: VirtioDeviceType? { nil }
}

/// Linux network interface names (IFNAMSIZ is 16 with the NUL): 1 to 15 bytes, no '/',
/// ':' or white space, not "." or "..".
enum InterfaceName {
    static let maxLength = 15

    /// Why `name` cannot be an interface name, or nil if it can.
    static func problem(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > maxLength { return "an interface name has 1 to \(maxLength) characters" }
        if name == "." || name == ".." { return "'.' and '..' are not interface names" }
        if name.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7f || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") }) {
            return "an interface name has no '/', ':', spaces or non-ASCII characters"
        }
        return nil
    }
}
