/// Everything the virtual card has, which the back end (not the VMM) decides: QEMU's
/// vhost-user-snd reads the configuration space from the back end with GET_CONFIG
/// (VHOST_USER_PROTOCOL_F_CONFIG), and the driver then asks for each item's information.
public struct SoundTopology: Sendable, Equatable {
    public var jacks: [SoundJack]
    public var streams: [SoundStreamDescription]
    public var channelMaps: [SoundChannelMap]

    /// Streams a card may have: each costs a clock thread while it runs.
    public static let maxStreams = 8

    public init(jacks: [SoundJack], streams: [SoundStreamDescription], channelMaps: [SoundChannelMap]) {
        precondition(!streams.isEmpty && streams.count <= Self.maxStreams)
        self.jacks = jacks
        self.streams = streams
        self.channelMaps = channelMaps
    }

    /// One playback stream (0) and one capture stream (1) in function group 0 — Linux's
    /// `hw:N,0` for both — with a line-out and a microphone jack, and mono and stereo maps.
    public static func standard(formats: [PCMSampleFormat] = PCMSampleFormat.allCases,
                                rates: [PCMRate] = PCMRate.allCases) -> SoundTopology {
        card(playback: 1, formats: formats, rates: rates)
    }

    /// `playback` playback streams — IDs 0 to playback − 1, each its own function group, so
    /// Linux's `hw:N,0` to `hw:N,playback−1` — then one capture stream in group 0 (`hw:N,0`).
    /// With one playback stream this is `standard`.
    public static func card(playback: Int, formats: [PCMSampleFormat] = PCMSampleFormat.allCases,
                            rates: [PCMRate] = PCMRate.allCases) -> SoundTopology {
        precondition((1..<maxStreams).contains(playback))
        let groups = (0..<UInt32(playback))
        return SoundTopology(jacks: [SoundJack(direction: .output), SoundJack(direction: .input)],
                             streams: groups.map { SoundStreamDescription(direction: .output, formats: formats, rates: rates, functionNode: $0) }
                                 + [SoundStreamDescription(direction: .input, formats: formats, rates: rates)],
                             channelMaps: groups.flatMap { SoundChannelMap.standard(.output, functionNode: $0) } + SoundChannelMap.standard(.input))
    }

    /// `struct virtio_snd_config` without `controls` (VIRTIO_SND_F_CTLS is not offered, so QEMU
    /// sizes the space to the end of `chmaps`, §5.14.4): jacks, streams, chmaps.
    public static let configSize = 12

    public var configBytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(UInt32(jacks.count))
        w.write(UInt32(streams.count))
        w.write(UInt32(channelMaps.count))
        return w.bytes
    }

    /// The information structures of one kind of item.
    public enum ItemKind: Sendable {
        case jack, stream, channelMap
    }

    /// Largest `size` a driver may give per item: generous beside today's 24 and 32 bytes, and a
    /// bound on the reply a query can make the device write.
    public static let maxItemSize: UInt32 = 256

    /// The reply payload to an item query (§5.14.6.1): `count` structures from `startID`, each
    /// cut or zero-padded to the driver's `size`. BAD_MSG if the range is outside the items
    /// (the driver MUST NOT ask so) or the size is zero or absurd.
    func answer(_ query: SoundControlRequest.ItemQuery, kind: ItemKind) throws(SoundStatus) -> [UInt8] {
        let items: [[UInt8]]
        switch kind {
        case .jack: items = jacks.map(\.infoBytes)
        case .stream: items = streams.map(\.infoBytes)
        case .channelMap: items = channelMaps.map(\.infoBytes)
        }
        let start = UInt64(query.startID), count = UInt64(query.count)
        guard start + count <= UInt64(items.count), query.size > 0, query.size <= Self.maxItemSize else { throw .badMessage }
        let size = Int(query.size)
        var out: [UInt8] = []
        out.reserveCapacity(Int(count) * size)
        for item in items[Int(start)..<Int(start + count)] {
            out += item.prefix(size)
            if item.count < size { out += [UInt8](repeating: 0, count: size - item.count) }
        }
        return out
    }
}
