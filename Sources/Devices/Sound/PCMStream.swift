import Logging
import Synchronization
import SystemCalls
import Virtio

/// One PCM stream of the card: its lifecycle (`PCMStreamState`), its messages
/// (`PCMTransferQueue`), its port into the host's sink or out of its source, and while it runs
/// its clock (`PCMStreamClock`).
///
/// Threads: commands and arriving messages come from the server thread; the clock thread moves
/// frames between the messages and the port, then signals `wake` so the server thread returns
/// what it finished. The port is only changed while no clock runs (PREPARE, RELEASE, a reset).
final class PCMStream: @unchecked Sendable {
    let id: UInt32
    let description: SoundStreamDescription
    let tag: SoundStreamTag
    private let sink: any SoundSink
    private let source: any SoundSource
    private let wake: EventFD
    private let logger: Logger

    // Server thread (and the clock, for the port, while it runs).
    private(set) var state = PCMStreamState.idle
    private var clock: PCMStreamClock?
    private var sinkPort: (any SoundSinkPort)?
    private var sourcePort: (any SoundSourcePort)?
    /// The clock thread's period buffer (only it uses it while it runs).
    private var period: [UInt8] = []

    private struct Shared {
        var queue = PCMTransferQueue<DescriptorChain>(limit: 0)
        var counters = SoundStreamCounters()
        var hostErrors = LogSampler()
    }
    private let shared = Mutex(Shared())

    init(id: UInt32, description: SoundStreamDescription, tag: SoundStreamTag, sink: any SoundSink, source: any SoundSource,
         wake: EventFD, logger: Logger) {
        self.id = id
        self.description = description
        self.tag = tag
        self.sink = sink
        self.source = source
        self.wake = wake
        self.logger = logger
    }

    deinit { clock?.stop() }

    var direction: SoundDirection { description.direction }
    var counters: SoundStreamCounters { shared.withLock { $0.counters } }

    // MARK: Commands (server thread)

    /// Carries out a command the lifecycle allows; on failure the state is unchanged.
    /// RELEASE finishes every message (IO_ERR: not played, or recorded only in part): the
    /// caller returns them before it answers the request (§5.14.6.6.5.1).
    func apply(_ command: PCMCommand) throws(SoundStatus) {
        let next = try state.after(command)
        switch command {
        case .setParameters:
            // A prepared stream's messages go back unplayed: the new parameters make them meaningless.
            shared.withLock { $0.queue.flush(.ioError) }
            closePorts()
        case .prepare:
            guard let parameters = next.parameters else { throw .badMessage }
            if state.transferParameters != parameters { try openPort(parameters) }
            if state.transferParameters == nil {
                shared.withLock { $0.queue = PCMTransferQueue(limit: parameters.bufferBytes) }
            }
        case .start:
            guard let parameters = next.parameters else { throw .badMessage }
            try startClock(parameters)
        case .stop:
            stopClock()
        case .release:
            shared.withLock { $0.queue.flush(.ioError) }
            closePorts()
        }
        state = next
    }

    /// Back to idle: no clock, no port, no messages (they cannot be returned: the queue is gone).
    func reset() {
        stopClock()
        closePorts()
        shared.withLock { $0.queue.removeAll() }
        state = .idle
    }

    // MARK: Messages (server thread)

    /// Why an I/O message is refused at once (answered IO_ERR, §5.14.6.8).
    enum Refusal: Error, CustomStringConvertible {
        case notReady(PCMStreamState)
        case notWholeFrames(bytes: Int, frameBytes: Int)
        case overBuffer(bytes: Int, held: Int, buffer: Int)

        var description: String {
            switch self {
            case let .notReady(state): "stream is \(state) (not prepared, running or stopped)"
            case let .notWholeFrames(bytes, frameBytes): "\(bytes) bytes are not whole frames of \(frameBytes)"
            case let .overBuffer(bytes, held, buffer): "\(bytes) bytes beyond the buffer (\(held) of \(buffer) held)"
            }
        }
    }

    /// Checks a message of `bytes` bytes of frames against the stream's parameters and buffer.
    func check(bytes: Int) throws(Refusal) {
        guard let parameters = state.transferParameters else { throw .notReady(state) }
        let frameBytes = parameters.format.frameBytes
        guard bytes > 0, bytes % frameBytes == 0 else { throw .notWholeFrames(bytes: bytes, frameBytes: frameBytes) }
        let (fits, held) = shared.withLock { ($0.queue.admits(bytes), $0.queue.heldBytes) }
        guard fits else { throw .overBuffer(bytes: bytes, held: held, buffer: parameters.bufferBytes) }
    }

    /// Queues a message that passed `check`; true if it came late (an xrun the driver is told
    /// of when it enabled VIRTIO_SND_PCM_F_EVT_XRUNS).
    func enqueue(_ transfer: PCMTransfer<DescriptorChain>) -> Bool {
        let late = shared.withLock { s -> Bool in
            let late = s.queue.append(transfer)
            if late { s.counters.xruns += 1 }
            return late
        }
        return late && state.parameters?.features.contains(.xrunEvents) == true
    }

    /// Messages the clock or RELEASE finished, to return now.
    func takeFinished() -> [FinishedTransfer<DescriptorChain>] { shared.withLock { $0.queue.takeFinished() } }

    // MARK: The clock (its own thread)

    private func startClock(_ parameters: PCMParameters) throws(SoundStatus) {
        period = []
        period.reserveCapacity(parameters.periodBytes)
        shared.withLock { $0.queue.running = true }
        do {
            clock = try PCMStreamClock(name: "avp-snd-\(id)", periodFrames: parameters.periodFrames, rate: parameters.format.rate) {
                [weak self] in self?.tick(parameters)
            }
        } catch {
            shared.withLock { $0.queue.running = false }
            logger.error("sound: stream \(id): cannot start its clock: \(error)")
            throw .ioError
        }
    }

    private func stopClock() {
        clock?.stop()
        clock = nil
        shared.withLock { $0.queue.running = false }
    }

    /// One period: an output stream plays the next period's frames into the sink, an input
    /// stream records one from the source into its messages.
    private func tick(_ parameters: PCMParameters) {
        var failure: SoundHostError?
        switch direction {
        case .output:
            guard let port = sinkPort else { return }
            let latency = UInt32(clamping: port.latencyBytes)
            let played = shared.withLock { $0.queue.play(parameters.periodBytes, into: &period, latencyBytes: latency) }
            do { try period.withBytes { (b) throws(SoundHostError) in try port.write(b) } } catch { failure = error }
            let missing = parameters.periodBytes - period.count
            if missing > 0 { port.gap(frames: missing / parameters.format.frameBytes) }
            shared.withLock { s in
                // The sink did not take them: not played (§5.14.6.8: IO_ERR).
                if failure != nil { s.queue.setStatus(ofLast: played, .ioError) }
                s.counters.periods += 1
                s.counters.bytes += period.count
                if missing > 0 { s.counters.starvedPeriods += 1 }
            }
        case .input:
            guard let port = sourcePort else { return }
            period = [UInt8](repeating: 0, count: parameters.periodBytes)
            do { try period.withMutableBytes { (b) throws(SoundHostError) in try port.read(into: b) } } catch { failure = error }
            shared.withLock { s in
                let (recorded, dropped) = s.queue.record(period[...])
                // The source failed: what it gave is not a recording (§5.14.6.8: IO_ERR).
                if failure != nil { s.queue.setStatus(ofLast: recorded, .ioError) }
                s.counters.periods += 1
                s.counters.bytes += period.count
                if dropped > 0 { s.counters.starvedPeriods += 1 }
            }
        }
        if let failure {
            let log = shared.withLock { s -> Bool in
                s.counters.hostErrors += 1
                return s.hostErrors.record()
            }
            if log { logger.error("sound: \(tag): \(failure) (\(counters.hostErrors) so far)") }
        }
        wake.signal()
    }

    // MARK: Ports

    private func openPort(_ parameters: PCMParameters) throws(SoundStatus) {
        closePorts()
        do {
            switch direction {
            case .output: sinkPort = try sink.connect(tag, format: parameters.format)
            case .input: sourcePort = try source.connect(tag, format: parameters.format)
            }
        } catch {
            logger.error("sound: \(tag): cannot prepare \(parameters): \(error)")
            throw .ioError
        }
    }

    private func closePorts() {
        sinkPort?.close()
        sourcePort?.close()
        sinkPort = nil
        sourcePort = nil
    }
}

/// What one stream has done since the device started.
public struct SoundStreamCounters: Sendable, Equatable {
    /// Periods the clock ticked.
    public var periods = 0
    /// Bytes of frames played into the sink, or recorded from the source.
    public var bytes = 0
    /// Periods the messages did not cover (output: silence; input: frames dropped).
    public var starvedPeriods = 0
    /// Messages that came late after such a period (underruns of output, overruns of input).
    public var xruns = 0
    /// Writes to the sink or reads from the source that failed.
    public var hostErrors = 0

    public init() {}
}
