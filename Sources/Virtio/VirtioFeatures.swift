/// VIRTIO feature bits (VIRTIO 1.2 §2.2, §6). Device-specific bits (0–23) are
/// named by each device; the reserved transport and ring bits are named here.
public struct VirtioFeatures: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(bit: Int) { rawValue = 1 << UInt64(bit) }

    public static let notifyOnEmpty = VirtioFeatures(bit: 24)
    public static let anyLayout = VirtioFeatures(bit: 27)
    public static let ringIndirectDescriptors = VirtioFeatures(bit: 28)
    public static let ringEventIndex = VirtioFeatures(bit: 29)
    public static let version1 = VirtioFeatures(bit: 32)
    public static let accessPlatform = VirtioFeatures(bit: 33)
    public static let ringPacked = VirtioFeatures(bit: 34)
    public static let inOrder = VirtioFeatures(bit: 35)
    public static let orderPlatform = VirtioFeatures(bit: 36)
    public static let singleRootIOV = VirtioFeatures(bit: 37)
    public static let notificationData = VirtioFeatures(bit: 38)
    public static let ringReset = VirtioFeatures(bit: 40)

    /// What AVP's split-queue implementation offers for every device: modern
    /// interface only (§6.1: a device MUST offer VIRTIO_F_VERSION_1), indirect
    /// descriptors and event-index notification suppression.
    public static let transport: VirtioFeatures = [.version1, .ringIndirectDescriptors, .ringEventIndex]

    public func contains(bit: Int) -> Bool { rawValue & (1 << UInt64(bit)) != 0 }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}
