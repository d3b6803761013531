/// The QEMU device model of a vhost-user device: its names on each machine (QEMU's
/// names are not uniform: the mmio variants of vhost-user-rng and -blk have no suffix),
/// its properties beyond the chardev, and how QEMU attaches it to the chardev.
/// Each kind file defines its own model (`.rng` in EntropyKind.swift, ...).
public struct QemuDeviceModel: Sendable, Equatable {
    /// The model on q35 (virtio-pci).
    public var pci: String
    /// The model on microvm and virt (virtio-mmio).
    public var mmio: String
    public var properties: [String] = []
    public var attachment: Attachment

    /// How the device model reaches the vhost-user chardev.
    public enum Attachment: Sendable, Equatable {
        /// `-device MODEL,chardev=ID`: the vhost-user-* models.
        case chardev
        /// virtio-net: `-netdev vhost-user` plus QEMU's own virtio-net model.
        case netdev
        /// virtio-crypto: `-object cryptodev-vhost-user` plus QEMU's own virtio-crypto model,
        /// which keeps the control queue and forwards sessions to the server.
        case cryptodev
    }

    public init(pci: String, mmio: String, properties: [String] = [], throughNetdev: Bool = false) {
        self.init(pci: pci, mmio: mmio, properties: properties, attachment: throughNetdev ? .netdev : .chardev)
    }

    public init(pci: String, mmio: String, properties: [String] = [], attachment: Attachment) {
        self.pci = pci
        self.mmio = mmio
        self.properties = properties
        self.attachment = attachment
    }

    public func name(on machine: QemuCommandLine.Machine) -> String {
        switch machine {
        case .q35: pci
        case .microvm, .virt: mmio
        }
    }
}
