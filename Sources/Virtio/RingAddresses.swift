import GuestMemory

/// Where the three parts of a split virtqueue live in guest memory (VIRTIO 1.2 §2.7).
public struct RingAddresses: Equatable, Sendable {
    public var descriptorTable: GuestAddress
    public var availableRing: GuestAddress
    public var usedRing: GuestAddress

    public init(descriptorTable: GuestAddress, availableRing: GuestAddress, usedRing: GuestAddress) {
        self.descriptorTable = descriptorTable
        self.availableRing = availableRing
        self.usedRing = usedRing
    }

    /// Bytes of each part for a queue of `size` entries, trailing event fields included.
    public static func descriptorTableSize(_ size: Int) -> Int { 16 * size }
    public static func availableRingSize(_ size: Int) -> Int { 6 + 2 * size }
    public static func usedRingSize(_ size: Int) -> Int { 6 + 8 * size }
}
