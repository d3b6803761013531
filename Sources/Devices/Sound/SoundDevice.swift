import GuestMemory
import Logging
import SystemCalls
import Virtio

/// virtio-snd (VIRTIO 1.2 §5.14): a sound card whose jacks, PCM streams and channel maps come
/// from `SoundTopology`, with the message-based PCM transport. Queues: controlq (0), eventq (1),
/// txq (2), rxq (3). No feature bits (VIRTIO_SND_F_CTLS is not offered: no control elements).
///
/// The controlq is answered at once. Messages on the txq and rxq are checked, then held by
/// their stream (`PCMStream`) until its clock has played or recorded them: each output message
/// is copied out of the guest when it arrives, each input message filled when its period is
/// over, so only this server thread touches guest memory. Everything a guest controls is
/// checked — stream IDs, sizes against the negotiated buffer, formats, rates, the lifecycle —
/// and refused with BAD_MSG, NOT_SUPP or IO_ERR and a rate-limited log line; the server goes on.
public final class SoundDevice: VirtioDevice, @unchecked Sendable {
    static let controlQueue = 0, eventQueue = 1, txQueue = 2, rxQueue = 3

    public let deviceType = VirtioDeviceType.sound
    public let queueCount = 4
    public let deviceFeatures: VirtioFeatures = []
    public let configSize = SoundTopology.configSize
    public let topology: SoundTopology

    let logger: Logger
    /// Signalled by the streams' clocks when they finished messages.
    let wake: EventFD
    let streams: [PCMStream]
    // Server-thread state.
    var queues: [Int: DeviceQueue] = [:]
    var events = SoundEventBacklog()
    var statistics = SoundStatistics()
    var refusals = LogSampler()

    /// `origin` names this device's guest to the sink and source (their ports' tags).
    public init(topology: SoundTopology = .standard(), sink: any SoundSink, source: any SoundSource, origin: String = "guest",
                logger: Logger) throws(Errno) {
        self.topology = topology
        self.logger = logger
        let wake = try EventFD()
        self.wake = wake
        streams = topology.streams.enumerated().map { i, description in
            PCMStream(id: UInt32(i), description: description, tag: SoundStreamTag(origin: origin, stream: UInt32(i)),
                      sink: sink, source: source, wake: wake, logger: logger)
        }
    }

    /// What the device has done: requests, messages, and each stream's counters.
    public var currentStatistics: SoundStatistics {
        var s = statistics
        s.eventsDropped = events.dropped
        s.streams = streams.map(\.counters)
        return s
    }

    /// The state of each stream (for tests and logs).
    public var streamStates: [PCMStreamState] { streams.map(\.state) }

    // MARK: VirtioDevice

    public func readConfig(offset: Int, count: Int) -> [UInt8]? {
        let bytes = topology.configBytes
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return nil }
        return Array(bytes[offset..<offset + count])
    }

    /// The configuration space is driver-read-only (§5.14.4); QEMU's front end writes back what
    /// it read, which changes nothing.
    public func writeConfig(offset: Int, bytes: [UInt8]) -> Bool {
        offset >= 0 && bytes.count <= configSize && offset <= configSize - bytes.count
    }

    public var eventDescriptors: [Int32] { [wake.rawValue] }

    public func queueStarted(_ queue: DeviceQueue) {
        queues[queue.index] = queue
    }

    /// A stopped txq or rxq takes its messages with it: the streams of that direction stop
    /// and forget them (they cannot be returned to a ring that is gone).
    public func queueStopped(index: Int) {
        queues[index] = nil
        switch index {
        case Self.txQueue: for s in streams where s.direction == .output { s.reset() }
        case Self.rxQueue: for s in streams where s.direction == .input { s.reset() }
        case Self.eventQueue: events.removeAll()
        default: break
        }
    }

    public func reset() {
        for s in streams { s.reset() }
        queues = [:]
        events.removeAll()
        wake.drain()
    }

    public func process(_ queue: DeviceQueue) {
        switch queue.index {
        case Self.controlQueue: processControl(queue)
        case Self.txQueue: processTransfers(queue, direction: .output)
        case Self.rxQueue: processTransfers(queue, direction: .input)
        default: break
        }
        deliverEvents()
    }

    public func handleEvent(descriptor: Int32) {
        wake.drain()
        returnFinished()
        deliverEvents()
    }

    // MARK: Control requests

    private func processControl(_ queue: DeviceQueue) {
        queue.drain { chain in answer(chain) }
    }

    /// Executes one control request and writes `virtio_snd_hdr` (and any information after
    /// it) into its device-writable part; returns the bytes written.
    private func answer(_ chain: DescriptorChain) -> Int {
        statistics.controlRequests += 1
        guard chain.writableLength >= 4 else {
            refuse("controlq request \(chain.head) has \(chain.writableLength) writable bytes: no room for a status")
            return 0
        }
        var (status, payload) = execute(chain)
        if status == .ok, 4 + payload.count > chain.writableLength {
            refuse("controlq request \(chain.head): the reply of \(4 + payload.count) bytes does not fit \(chain.writableLength)")
            (status, payload) = (.badMessage, [])
        }
        if status != .ok { statistics.refusedRequests += 1 }
        var writer = chain.writer()
        do {
            try writer.write(status.rawValue)
            try writer.write(payload)
        } catch {
            refuse("controlq request \(chain.head): \(error)")
        }
        return writer.written
    }

    private func execute(_ chain: DescriptorChain) -> (SoundStatus, [UInt8]) {
        guard chain.readableLength <= SoundControlRequest.maxRequestBytes else {
            refuse("controlq request \(chain.head): \(SoundControlRequest.ParseError.tooLong(chain.readableLength))")
            return (.badMessage, [])
        }
        let request: SoundControlRequest
        do {
            var reader = chain.reader()
            request = try SoundControlRequest.parse(try reader.readBytes(chain.readableLength))
        } catch {
            refuse("controlq request \(chain.head): \(error)")
            return (.badMessage, [])
        }
        do {
            return (.ok, try execute(request))
        } catch {
            refuse("controlq request \(chain.head) \(request): \(error)")
            return (error, [])
        }
    }

    /// Carries out a parsed request; the payload that follows an OK status.
    func execute(_ request: SoundControlRequest) throws(SoundStatus) -> [UInt8] {
        switch request {
        case let .jackInfo(query): return try topology.answer(query, kind: .jack)
        case let .pcmInfo(query): return try topology.answer(query, kind: .stream)
        case let .channelMapInfo(query): return try topology.answer(query, kind: .channelMap)
        case let .jackRemap(jack, _, _):
            // No jack offers VIRTIO_SND_JACK_F_REMAP.
            guard jack < UInt32(topology.jacks.count) else { throw .badMessage }
            throw .notSupported
        case let .setParameters(id, request):
            let stream = try stream(id)
            try run(.setParameters(try PCMParameters.validate(request, for: stream.description)), on: stream)
        case let .prepare(id): try run(.prepare, on: try stream(id))
        case let .start(id): try run(.start, on: try stream(id))
        case let .stop(id): try run(.stop, on: try stream(id))
        case let .release(id): try run(.release, on: try stream(id))
        case .controlElement, .unknown:
            throw .notSupported
        }
        return []
    }

    private func stream(_ id: UInt32) throws(SoundStatus) -> PCMStream {
        guard id < UInt32(streams.count) else { throw .badMessage }
        return streams[Int(id)]
    }

    /// A command, then the messages it finished (RELEASE) go back before the request is answered.
    private func run(_ command: PCMCommand, on stream: PCMStream) throws(SoundStatus) {
        defer { returnFinished(stream) }
        try stream.apply(command)
        logger.debug("sound: stream \(stream.id): \(command) → \(stream.state)\(stream.state.parameters.map { ", \($0)" } ?? "")")
    }

    func refuse(_ message: String) {
        if refusals.record() { logger.warning("sound: \(message) (\(refusals.count) refused so far)") }
    }
}
