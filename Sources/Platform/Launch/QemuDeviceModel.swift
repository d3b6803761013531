/// The QEMU device model of a vhost-user device: its names on each machine (QEMU's
/// names are not uniform: the mmio variants of vhost-user-rng and -blk have no suffix),
/// its properties beyond the chardev, and whether it attaches through `-netdev`.
/// Each kind file defines its own model (`.rng` in EntropyKind.swift, ...).
public struct QemuDeviceModel: Sendable, Equatable {
    /// The model on q35 (virtio-pci).
    public var pci: String
    /// The model on microvm and virt (virtio-mmio).
    public var mmio: String
    public var properties: [String] = []
    /// virtio-net: `-netdev vhost-user` plus QEMU's own virtio-net model.
    public var throughNetdev = false

    public init(pci: String, mmio: String, properties: [String] = [], throughNetdev: Bool = false) {
        self.pci = pci
        self.mmio = mmio
        self.properties = properties
        self.throughNetdev = throughNetdev
    }

    public func name(on machine: QemuCommandLine.Machine) -> String {
        switch machine {
        case .q35: pci
        case .microvm, .virt: mmio
        }
    }
}
