/// Protocol feature bits negotiated with GET/SET_PROTOCOL_FEATURES (vhost-user.rst, "Protocol features").
public struct VhostUserProtocolFeatures: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    private init(bit: Int) { rawValue = 1 << UInt64(bit) }

    public static let multipleQueues = VhostUserProtocolFeatures(bit: 0)
    public static let logSharedMemory = VhostUserProtocolFeatures(bit: 1)
    public static let rarp = VhostUserProtocolFeatures(bit: 2)
    public static let replyAck = VhostUserProtocolFeatures(bit: 3)
    public static let mtu = VhostUserProtocolFeatures(bit: 4)
    public static let backendRequests = VhostUserProtocolFeatures(bit: 5)
    public static let crossEndian = VhostUserProtocolFeatures(bit: 6)
    public static let cryptoSession = VhostUserProtocolFeatures(bit: 7)
    public static let pagefault = VhostUserProtocolFeatures(bit: 8)
    public static let config = VhostUserProtocolFeatures(bit: 9)
    public static let backendSendFD = VhostUserProtocolFeatures(bit: 10)
    public static let hostNotifier = VhostUserProtocolFeatures(bit: 11)
    public static let inflightSharedMemory = VhostUserProtocolFeatures(bit: 12)
    public static let resetDevice = VhostUserProtocolFeatures(bit: 13)
    public static let inbandNotifications = VhostUserProtocolFeatures(bit: 14)
    public static let configureMemSlots = VhostUserProtocolFeatures(bit: 15)
    public static let status = VhostUserProtocolFeatures(bit: 16)
    public static let xenMmap = VhostUserProtocolFeatures(bit: 17)
    public static let sharedObject = VhostUserProtocolFeatures(bit: 18)
    public static let deviceState = VhostUserProtocolFeatures(bit: 19)

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// The virtio feature bit a vhost-user back end sets to say it speaks protocol features
/// (VHOST_USER_F_PROTOCOL_FEATURES, bit 30); never passed on to the device.
public let vhostUserProtocolFeaturesBit: UInt64 = 1 << 30
