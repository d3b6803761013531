/// One split-virtqueue descriptor as it sits in guest memory (VIRTIO 1.2 §2.7.5):
/// le64 addr, le32 len, le16 flags, le16 next — 16 bytes.
public struct Descriptor: Equatable, Sendable {
    public static let size = 16

    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// The buffer continues via `next`.
        public static let next = Flags(rawValue: 1)
        /// The buffer is device write-only (otherwise device read-only).
        public static let write = Flags(rawValue: 2)
        /// The buffer holds a table of indirect descriptors (§2.7.5.3).
        public static let indirect = Flags(rawValue: 4)
    }

    public var address: UInt64
    public var length: UInt32
    public var flags: Flags
    public var next: UInt16

    public init(address: UInt64, length: UInt32, flags: Flags = [], next: UInt16 = 0) {
        self.address = address
        self.length = length
        self.flags = flags
        self.next = next
    }
}
