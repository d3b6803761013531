/// How a block device server is set up (`avp serve block`, the platform file).
public struct BlockDeviceOptions: Sendable {
    public enum CacheMode: String, Sendable, CaseIterable {
        /// WCE=1: completed writes may sit in the host page cache until a FLUSH.
        case writeback
        /// WCE=0: every completed write is already on stable storage.
        case writethrough
    }

    public var imagePath: String
    public var readOnly = false
    /// GET_ID answer, at most 20 bytes (VIRTIO_BLK_ID_BYTES).
    public var serial = ""
    public var queueCount = 1
    public var cache = CacheMode.writeback
    /// O_DIRECT: bypass the host page cache (the guest's buffers must then be 512-byte aligned).
    public var direct = false
    /// Logical block size the guest sees.
    public var blockSize: UInt32 = 512

    public init(imagePath: String) { self.imagePath = imagePath }
}
