import Virtio

/// virtio-net feature bits (VIRTIO 1.2 §5.1.3) AVP uses.
public enum NetFeature {
    /// {AVPS-v2.0-10}: the device reports its maximum MTU.
    public static let mtu = VirtioFeatures(bit: 3)
    /// {AVPS-v2.0-11}: the device has a MAC address (QEMU's virtio-net model provides it).
    public static let mac = VirtioFeatures(bit: 5)
    public static let mergeableRxBuffers = VirtioFeatures(bit: 15)
    public static let status = VirtioFeatures(bit: 16)
    public static let controlQueue = VirtioFeatures(bit: 17)
    /// {AVPS-v2.0-12}: the driver may set the MAC through the control queue.
    public static let controlMACAddress = VirtioFeatures(bit: 23)
}

/// The header in front of every frame (VIRTIO 1.2 §5.1.6, `struct virtio_net_hdr`): with
/// VIRTIO_F_VERSION_1 it is always 12 bytes, num_buffers included. AVP offers no
/// checksum or segmentation offload, so every field but num_buffers is zero.
public enum NetHeader {
    public static let size = 12

    /// The header the device writes in front of a received frame: one buffer, no offloads.
    public static let received: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
}
