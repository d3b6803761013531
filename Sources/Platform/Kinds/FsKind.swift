extension QemuDeviceModel {
    /// QEMU's vhost-user-fs: the tag the guest mounts (`mount -t virtiofs TAG DIR`) and the queue
    /// size are QEMU's properties (it makes the configuration space itself). 1024 descriptors let
    /// one request carry 1 MiB (QEMU's default of 128 caps it at 124 pages).
    public static func fs(tag: String) -> QemuDeviceModel {
        QemuDeviceModel(pci: "vhost-user-fs-pci", mmio: "vhost-user-fs-device", properties: ["tag=\(tag)", "queue-size=1024"])
    }
}
