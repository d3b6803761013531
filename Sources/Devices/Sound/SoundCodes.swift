/// The numbers of virtio-snd (VIRTIO 1.2 §5.14.6): request codes, status codes and event codes
/// share one `le32 code` space in `struct virtio_snd_hdr`.
public enum SoundRequestCode: UInt32, Sendable, CaseIterable {
    case jackInfo = 1
    case jackRemap = 2
    case pcmInfo = 0x0100
    case pcmSetParameters = 0x0101
    case pcmPrepare = 0x0102
    case pcmRelease = 0x0103
    case pcmStart = 0x0104
    case pcmStop = 0x0105
    case channelMapInfo = 0x0200
    /// VIRTIO_SND_R_CTL_INFO to CTL_TLV_COMMAND (0x0300–0x0306): control elements, only with
    /// VIRTIO_SND_F_CTLS, which this device does not offer.
    case controlInfo = 0x0300
    case controlEnumItems, controlRead, controlWrite, controlTLVRead, controlTLVWrite, controlTLVCommand
}

/// `VIRTIO_SND_S_*`: the status of a control request or an I/O message (§5.14.6).
public enum SoundStatus: UInt32, Sendable, Error, CustomStringConvertible {
    case ok = 0x8000
    /// The request is malformed or has invalid parameters.
    case badMessage = 0x8001
    /// The operation or parameters are not supported.
    case notSupported = 0x8002
    /// An I/O error (for I/O messages: anything but success, §5.14.6.8).
    case ioError = 0x8003

    public var description: String {
        switch self {
        case .ok: "OK"
        case .badMessage: "BAD_MSG"
        case .notSupported: "NOT_SUPP"
        case .ioError: "IO_ERR"
        }
    }
}

/// `VIRTIO_SND_EVT_*`: notifications on the event queue (§5.14.6).
public enum SoundEventCode: UInt32, Sendable {
    case jackConnected = 0x1000
    case jackDisconnected = 0x1001
    case pcmPeriodElapsed = 0x1100
    /// An underrun of an output stream, an overrun of an input stream.
    case pcmXrun = 0x1101
    case controlNotify = 0x1200
}

/// `VIRTIO_SND_D_*`: the direction of a stream, jack or channel map.
public enum SoundDirection: UInt8, Sendable, CustomStringConvertible {
    case output = 0
    case input = 1

    public var description: String { self == .output ? "output" : "input" }
}

/// `VIRTIO_SND_PCM_F_*`: stream features (§5.14.6.6.2). Only the message-based transport exists:
/// the shared-memory features are placeholders the driver MUST NOT select.
public struct PCMFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let sharedMemoryHost = PCMFeatures(rawValue: 1 << 0)
    public static let sharedMemoryGuest = PCMFeatures(rawValue: 1 << 1)
    public static let messagePolling = PCMFeatures(rawValue: 1 << 2)
    public static let periodEventsForSharedMemory = PCMFeatures(rawValue: 1 << 3)
    /// Underrun/overrun notifications on the event queue.
    public static let xrunEvents = PCMFeatures(rawValue: 1 << 4)

    /// Every bit the specification defines.
    public static let defined: PCMFeatures = [.sharedMemoryHost, .sharedMemoryGuest, .messagePolling,
                                              .periodEventsForSharedMemory, .xrunEvents]
}
