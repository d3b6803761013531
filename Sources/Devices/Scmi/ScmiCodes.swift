/// Numbers of the Arm System Control and Management Interface (DEN0056, SCMI v3.x) and of its
/// virtio transport (VIRTIO 1.2 §5.21): protocol and message identifiers, status codes and
/// feature bits, as the spec's tables give them.
public enum ScmiCodes {
    /// VIRTIO 1.2 §5.21.2: cmdq carries agent → platform commands and their responses.
    public static let commandQueue = 0
    /// VIRTIO 1.2 §5.21.2: eventq carries the platform's notifications (with P2A_CHANNELS).
    public static let eventQueue = 1
    /// VIRTIO 1.2 §5.21.3: VIRTIO_SCMI_F_P2A_CHANNELS, the eventq exists.
    public static let featureP2AChannels = 0
    /// VIRTIO 1.2 §5.21.3: VIRTIO_SCMI_F_SHARED_MEMORY (statistics regions; not offered).
    public static let featureSharedMemory = 1

    /// DEN0056 §4.1.2: the largest payload AVP answers with. Linux's virtio transport posts
    /// buffers of 128 payload bytes (VIRTIO_SCMI_MAX_MSG_SIZE) plus header and status.
    public static let maxPayload = 128
    /// The longest request payload AVP reads: every command it knows takes at most 16 bytes.
    public static let maxRequestPayload = 64
    /// DEN0056 §4.1.2: short names are 16 bytes with their NUL.
    public static let shortNameSize = 16
}

/// DEN0056 §4.1.1: the protocols AVP implements.
public enum ScmiProtocolID: UInt8, Sendable, CaseIterable {
    case base = 0x10
    case power = 0x11
    case performance = 0x13
    case sensor = 0x15
    case reset = 0x16

    /// The version AVP implements (major in bits 31:16). Each is at most what Linux 6.12
    /// supports, so it never needs NEGOTIATE_PROTOCOL_VERSION.
    public var version: UInt32 {
        switch self {
        case .base: 0x2_0000      // SCMI v3.x base protocol 2.0
        case .power: 0x3_0000     // power domain management 3.0
        case .performance: 0x3_0000  // performance domain management 3.0 (levels, not indices)
        case .sensor: 0x3_0000    // sensor management 3.0
        case .reset: 0x3_0000     // reset domain management 3.0
        }
    }
}

/// DEN0056 §4.1.4: the status every response starts with (a signed 32-bit value).
public enum ScmiStatus: Int32, Sendable, Equatable {
    case success = 0
    case notSupported = -1
    case invalidParameters = -2
    case denied = -3
    case notFound = -4
    case outOfRange = -5
    case busy = -6
    case commsError = -7
    case genericError = -8
    case hardwareError = -9
    case protocolError = -10
}

/// DEN0056 §4.1.2: bits 9:8 of the message header.
public enum ScmiMessageType: UInt8, Sendable {
    case command = 0
    case delayedResponse = 2
    case notification = 3
}

/// DEN0056 §4.1.3: commands every protocol has.
public enum ScmiCommonMessage {
    public static let protocolVersion: UInt8 = 0x0
    public static let protocolAttributes: UInt8 = 0x1
    public static let protocolMessageAttributes: UInt8 = 0x2
    /// SCMI v3.2: NEGOTIATE_PROTOCOL_VERSION (sent by Linux only to a newer platform).
    public static let negotiateProtocolVersion: UInt8 = 0x10
}
