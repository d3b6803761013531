import Virtio

/// virtio-blk feature bits (VIRTIO 1.2 §5.2.3).
public enum BlockFeature {
    public static let sizeMax = VirtioFeatures(bit: 1)
    public static let segMax = VirtioFeatures(bit: 2)
    public static let geometry = VirtioFeatures(bit: 4)
    public static let readOnly = VirtioFeatures(bit: 5)
    public static let blockSize = VirtioFeatures(bit: 6)
    /// {AVPS-v2.0-5}
    public static let flush = VirtioFeatures(bit: 9)
    public static let topology = VirtioFeatures(bit: 10)
    /// {AVPS-v2.0-6}
    public static let configWCE = VirtioFeatures(bit: 11)
    public static let multiQueue = VirtioFeatures(bit: 12)
    /// {AVPS-v2.0-7}
    public static let discard = VirtioFeatures(bit: 13)
    /// AVPS §2.6.1: "MUST implement support for the VIRTIO_BLK_F_WRITE_ZEROS feature flag".
    public static let writeZeroes = VirtioFeatures(bit: 14)
}
