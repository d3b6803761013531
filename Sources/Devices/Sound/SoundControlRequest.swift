/// A control-queue request of virtio-snd decoded into what it asks for (VIRTIO 1.2 §5.14.6).
/// `parse` is the single parser of the controlq's device-readable bytes: a pure function,
/// unit-tested and fuzzed (fuzz/SoundControlFuzz.swift). Values are not yet checked against
/// the device (stream IDs, offered formats, stream states): `SoundDevice` does that.
public enum SoundControlRequest: Sendable, Equatable {
    /// VIRTIO_SND_R_JACK_INFO, PCM_INFO or CHMAP_INFO (`struct virtio_snd_query_info`).
    case jackInfo(ItemQuery)
    case pcmInfo(ItemQuery)
    case channelMapInfo(ItemQuery)
    case jackRemap(jack: UInt32, association: UInt32, sequence: UInt32)
    case setParameters(stream: UInt32, PCMParameterRequest)
    case prepare(stream: UInt32)
    case release(stream: UInt32)
    case start(stream: UInt32)
    case stop(stream: UInt32)
    /// A control-element request (VIRTIO_SND_R_CTL_*): only with VIRTIO_SND_F_CTLS, not offered.
    case controlElement(code: UInt32)
    /// A code the specification does not define for requests.
    case unknown(code: UInt32)

    /// `struct virtio_snd_query_info` after its header: which items, and the size the driver
    /// gives each (§5.14.6.1: "used for backward compatibility").
    public struct ItemQuery: Sendable, Equatable {
        public var startID: UInt32
        public var count: UInt32
        public var size: UInt32

        public init(startID: UInt32, count: UInt32, size: UInt32) {
            self.startID = startID
            self.count = count
            self.size = size
        }
    }

    /// Why a request could not be read: answered with VIRTIO_SND_S_BAD_MSG.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Fewer bytes than `struct virtio_snd_hdr`.
        case noHeader(got: Int)
        /// Shorter than the structure its code names.
        case tooShort(code: UInt32, needed: Int, got: Int)
        /// More readable bytes than any request of this device has (its payload is not read).
        case tooLong(Int)

        public var description: String {
            switch self {
            case let .noHeader(got): "a request of \(got) bytes has no header"
            case let .tooShort(code, needed, got): "request 0x\(String(code, radix: 16)) needs \(needed) bytes, has \(got)"
            case let .tooLong(got): "a request of \(got) bytes is longer than \(SoundControlRequest.maxRequestBytes)"
            }
        }
    }

    /// The longest device-readable part accepted: the largest request here is 24 bytes
    /// (SET_PARAMS); CTL_WRITE's value (516 bytes) and a TLV are refused unread.
    public static let maxRequestBytes = 1024

    /// Sizes of the request structures (§5.14.6).
    static let querySize = 16, pcmHeaderSize = 8, setParametersSize = 24, jackRemapSize = 16

    /// Decodes one request from the controlq chain's device-readable bytes.
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> SoundControlRequest {
        guard bytes.count <= maxRequestBytes else { throw .tooLong(bytes.count) }
        var r = LittleEndianReader(bytes)
        guard let code = r.read(UInt32.self) else { throw .noHeader(got: bytes.count) }
        func need(_ size: Int) throws(ParseError) {
            guard bytes.count >= size else { throw .tooShort(code: code, needed: size, got: bytes.count) }
        }
        guard let known = SoundRequestCode(rawValue: code) else { return .unknown(code: code) }
        switch known {
        case .jackInfo, .pcmInfo, .channelMapInfo:
            try need(querySize)
            let query = ItemQuery(startID: r.read()!, count: r.read()!, size: r.read()!)
            switch known {
            case .jackInfo: return .jackInfo(query)
            case .pcmInfo: return .pcmInfo(query)
            default: return .channelMapInfo(query)
            }
        case .jackRemap:
            try need(jackRemapSize)
            return .jackRemap(jack: r.read()!, association: r.read()!, sequence: r.read()!)
        case .pcmSetParameters:
            try need(setParametersSize)
            let stream: UInt32 = r.read()!
            return .setParameters(stream: stream, PCMParameterRequest(
                bufferBytes: r.read()!, periodBytes: r.read()!, features: r.read()!,
                channels: r.read()!, format: r.read()!, rate: r.read()!, padding: r.read()!))
        case .pcmPrepare, .pcmRelease, .pcmStart, .pcmStop:
            try need(pcmHeaderSize)
            let stream: UInt32 = r.read()!
            switch known {
            case .pcmPrepare: return .prepare(stream: stream)
            case .pcmRelease: return .release(stream: stream)
            case .pcmStart: return .start(stream: stream)
            default: return .stop(stream: stream)
            }
        case .controlInfo, .controlEnumItems, .controlRead, .controlWrite, .controlTLVRead, .controlTLVWrite, .controlTLVCommand:
            return .controlElement(code: code)
        }
    }
}

/// `struct virtio_snd_pcm_set_params` after its header, as the driver sent it (§5.14.6.6.3).
public struct PCMParameterRequest: Sendable, Equatable {
    public var bufferBytes: UInt32
    public var periodBytes: UInt32
    public var features: UInt32
    public var channels: UInt8
    public var format: UInt8
    public var rate: UInt8
    public var padding: UInt8

    public init(bufferBytes: UInt32, periodBytes: UInt32, features: UInt32 = 0, channels: UInt8, format: UInt8, rate: UInt8,
                padding: UInt8 = 0) {
        self.bufferBytes = bufferBytes
        self.periodBytes = periodBytes
        self.features = features
        self.channels = channels
        self.format = format
        self.rate = rate
        self.padding = padding
    }

    /// The request's 16 bytes after `struct virtio_snd_pcm_hdr`.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        for value in [bufferBytes, periodBytes, features] { out += withUnsafeBytes(of: value.littleEndian, Array.init) }
        return out + [channels, format, rate, padding]
    }
}
