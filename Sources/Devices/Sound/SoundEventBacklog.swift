/// Notifications waiting for the driver's eventq buffers (`struct virtio_snd_event`, VIRTIO 1.2
/// §5.14.6), oldest first. Bounded: a driver that never gives event buffers costs a fixed
/// amount; past `limit` the oldest event is dropped (an xrun the driver never heard of is
/// still counted in the stream's statistics).
struct SoundEventBacklog: Sendable {
    struct Event: Sendable, Equatable {
        var code: SoundEventCode
        /// A stream or jack ID.
        var data: UInt32
    }

    static let limit = 64
    private var events: [Event] = []
    /// Events dropped because the backlog was full.
    private(set) var dropped = 0

    var isEmpty: Bool { events.isEmpty }

    mutating func append(_ code: SoundEventCode, data: UInt32) {
        if events.count >= Self.limit {
            events.removeFirst()
            dropped += 1
        }
        events.append(Event(code: code, data: data))
    }

    mutating func removeFirst() -> Event { events.removeFirst() }

    mutating func removeAll() { events.removeAll() }
}
