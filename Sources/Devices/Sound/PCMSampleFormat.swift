/// The sample formats this device plays and records, by their `VIRTIO_SND_PCM_FMT_*` numbers
/// (§5.14.6.6.1). All little-endian, interleaved (the only layout virtio-snd has).
public enum PCMSampleFormat: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case s16 = 5
    case s32 = 17
    /// IEEE 754 single precision, full scale ±1.0.
    case float = 19

    /// The largest format number the specification defines (IEC958_SUBFRAME); above it a
    /// driver's value is malformed rather than unsupported.
    public static let highestDefined: UInt8 = 24

    public var bytesPerSample: Int {
        switch self {
        case .s16: 2
        case .s32, .float: 4
        }
    }

    /// The ALSA name, as `aplay -f` takes it.
    public var description: String {
        switch self {
        case .s16: "S16_LE"
        case .s32: "S32_LE"
        case .float: "FLOAT_LE"
        }
    }

    /// The short names of the command line: s16, s32, float.
    public var shortName: String {
        switch self {
        case .s16: "s16"
        case .s32: "s32"
        case .float: "float"
        }
    }

    public init?(shortName: String) {
        guard let match = Self.allCases.first(where: { $0.shortName == shortName.lowercased() }) else { return nil }
        self = match
    }
}

/// The frame rates this device offers, by their `VIRTIO_SND_PCM_RATE_*` numbers (§5.14.6.6.1):
/// 8 to 48 kHz, those Linux's virtio_snd maps to ALSA rates.
public enum PCMRate: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hz8000 = 1
    case hz11025 = 2
    case hz16000 = 3
    case hz22050 = 4
    case hz32000 = 5
    case hz44100 = 6
    case hz48000 = 7

    /// The largest rate number the specification defines (VIRTIO_SND_PCM_RATE_24000).
    public static let highestDefined: UInt8 = 15

    public var hertz: Int {
        switch self {
        case .hz8000: 8000
        case .hz11025: 11025
        case .hz16000: 16000
        case .hz22050: 22050
        case .hz32000: 32000
        case .hz44100: 44100
        case .hz48000: 48000
        }
    }

    public init?(hertz: Int) {
        guard let match = Self.allCases.first(where: { $0.hertz == hertz }) else { return nil }
        self = match
    }

    public var description: String { "\(hertz) Hz" }
}

/// The shape of a stream's frames once negotiated: sample format, rate and channels.
public struct PCMStreamFormat: Sendable, Hashable, CustomStringConvertible {
    public var sample: PCMSampleFormat
    public var rate: Int
    public var channels: Int

    public init(sample: PCMSampleFormat, rate: Int, channels: Int) {
        precondition(rate > 0 && channels > 0)
        self.sample = sample
        self.rate = rate
        self.channels = channels
    }

    /// Bytes of one frame (one sample per channel).
    public var frameBytes: Int { sample.bytesPerSample * channels }

    /// Bytes of one second.
    public var bytesPerSecond: Int { frameBytes * rate }

    /// How long `bytes` last when played, in nanoseconds (rounded down).
    public func nanoseconds(forBytes bytes: Int) -> UInt64 {
        UInt64(bytes / frameBytes) * 1_000_000_000 / UInt64(rate)
    }

    public var description: String { "\(sample) \(rate) Hz \(channels) ch" }
}
