/// What one PCM stream offers, as `struct virtio_snd_pcm_info` tells the driver (VIRTIO 1.2
/// §5.14.6.6.1): its direction, sample formats, frame rates and channel range. SET_PARAMS is
/// checked against it.
public struct SoundStreamDescription: Sendable, Equatable {
    public var direction: SoundDirection
    public var formats: [PCMSampleFormat]
    public var rates: [PCMRate]
    public var channels: ClosedRange<Int>
    /// Features the driver may select (only underrun/overrun events: the message transport is the only one).
    public var features: PCMFeatures
    /// The HDA function group: streams, jacks and channel maps with the same value form one ALSA
    /// PCM device (Linux's virtio_snd), so playback and capture of nid 0 are `hw:N,0`.
    public var functionNode: UInt32

    /// At most this many channels per frame (`VIRTIO_SND_CHMAP_MAX_SIZE` bounds channel maps too).
    public static let maxChannels = 2

    public init(direction: SoundDirection, formats: [PCMSampleFormat] = PCMSampleFormat.allCases,
                rates: [PCMRate] = PCMRate.allCases, channels: ClosedRange<Int> = 1...2,
                features: PCMFeatures = [.xrunEvents], functionNode: UInt32 = 0) {
        precondition(!formats.isEmpty && !rates.isEmpty && channels.lowerBound >= 1 && channels.upperBound <= Self.maxChannels)
        precondition(features.isSubset(of: [.xrunEvents]), "only the message transport is implemented")
        self.direction = direction
        self.formats = formats
        self.rates = rates
        self.channels = channels
        self.features = features
        self.functionNode = functionNode
    }

    /// Size of `struct virtio_snd_pcm_info`.
    static let infoSize = 32

    /// The 32 bytes of `struct virtio_snd_pcm_info`; the padding is zero (§5.14.6.6.1.1).
    var infoBytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(functionNode)
        w.write(features.rawValue)
        w.write(formats.reduce(UInt64(0)) { $0 | 1 << UInt64($1.rawValue) })
        w.write(rates.reduce(UInt64(0)) { $0 | 1 << UInt64($1.rawValue) })
        w.write(direction.rawValue)
        w.write(UInt8(channels.lowerBound))
        w.write(UInt8(channels.upperBound))
        w.pad(to: Self.infoSize)
        return w.bytes
    }
}

/// A jack of the virtual card (`struct virtio_snd_jack_info`, §5.14.6.4.1), described with HDA
/// pin registers as the specification borrows them: Linux names and types the jack from the
/// default configuration's device field.
public struct SoundJack: Sendable, Equatable {
    public var direction: SoundDirection
    public var connected: Bool
    public var functionNode: UInt32

    public init(direction: SoundDirection, connected: Bool = true, functionNode: UInt32 = 0) {
        self.direction = direction
        self.connected = connected
        self.functionNode = functionNode
    }

    /// HDA pin default configuration (HDA 7.3.3.31): port connectivity "jack" (bits 31:30 = 0),
    /// device Line Out (0x0) or Mic In (0xA) in bits 23:20, association 1, sequence 0.
    var defaultConfiguration: UInt32 { (direction == .output ? 0x0 : 0xA) << 20 | 1 << 4 }
    /// HDA pin capabilities (HDA 7.3.4.9): presence detect (bit 2), output (bit 4) or input (bit 5).
    var capabilities: UInt32 { 1 << 2 | (direction == .output ? 1 << 4 : 1 << 5) }

    static let infoSize = 24

    /// `struct virtio_snd_jack_info`: no features (no remapping), padding zero (§5.14.6.4.1.1).
    var infoBytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(functionNode)
        w.write(UInt32(0))
        w.write(defaultConfiguration)
        w.write(capabilities)
        w.write(UInt8(connected ? 1 : 0))
        w.pad(to: Self.infoSize)
        return w.bytes
    }
}

/// A channel map (`struct virtio_snd_chmap_info`, §5.14.6.9.1): the positions of a frame's channels.
public struct SoundChannelMap: Sendable, Equatable {
    /// `VIRTIO_SND_CHMAP_*` positions used here.
    public enum Position: UInt8, Sendable {
        case mono = 2
        case frontLeft = 3
        case frontRight = 4
    }

    public var direction: SoundDirection
    public var positions: [Position]
    public var functionNode: UInt32

    /// `VIRTIO_SND_CHMAP_MAX_SIZE`.
    static let maxPositions = 18
    static let infoSize = 24

    public init(direction: SoundDirection, positions: [Position], functionNode: UInt32 = 0) {
        precondition(!positions.isEmpty && positions.count <= Self.maxPositions)
        self.direction = direction
        self.positions = positions
        self.functionNode = functionNode
    }

    /// Mono and stereo maps for a direction (of the PCM device of function group `functionNode`).
    public static func standard(_ direction: SoundDirection, functionNode: UInt32 = 0) -> [SoundChannelMap] {
        [SoundChannelMap(direction: direction, positions: [.mono], functionNode: functionNode),
         SoundChannelMap(direction: direction, positions: [.frontLeft, .frontRight], functionNode: functionNode)]
    }

    var infoBytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(functionNode)
        w.write(direction.rawValue)
        w.write(UInt8(positions.count))
        for p in positions { w.write(p.rawValue) }
        w.pad(to: Self.infoSize)
        return w.bytes
    }
}

/// Little-endian serialisation of the device's structures.
struct LittleEndianWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func pad(to size: Int) {
        if bytes.count < size { bytes += [UInt8](repeating: 0, count: size - bytes.count) }
    }
}
