import CALSA
import Logging
import Synchronization
import Virtio

/// What guests record from the host's microphone, through ALSA (libasound). Each stream that
/// connects opens the capture device itself, in the stream's own format: ALSA's plug layer
/// ("default", "plughw:") converts, so no stream waits for another or shares its format.
/// Several streams at once open the device several times: "default" and dsnoop devices share
/// a card; a raw "hw:" device takes one and refuses the next with `.busy`.
///
/// A port reads on its stream's clock thread and must not hold it up, so the device is read
/// non-blocking: what it does not have ready is silence, counted in `counters.silentFrames`.
/// How much of what is ready one read takes is `ALSACaptureBacklog`'s call (a device period
/// kept in hand against jitter, old frames skipped when they pile up).
public final class ALSASource: SoundSource {
    public let device: String
    /// Asked of the device per stream (it grants the nearest it can): the period it wakes at,
    /// which is also the cushion a port keeps, and the buffer that rides out a late read.
    public let periodMicroseconds: Int
    public let bufferMicroseconds: Int
    private let configuration: String?
    private let logger: Logger
    private let totals = Mutex(Counters())

    /// What the ports of this source have done since it was made, all streams together.
    public struct Counters: Sendable, Equatable {
        /// Frames handed over as silence because the device had none ready for them: a
        /// stream's first period(s) while the cushion fills, short reads, time lost to overruns.
        public var silentFrames = 0
        /// Frames the device recorded that were skipped to keep the delay bounded.
        public var skippedFrames = 0
        /// Times the device's buffer filled before it was read (recovered, recording restarted).
        public var overruns = 0
        /// Frames the device recorded and streams got.
        public var capturedFrames = 0
    }

    /// `device` is any ALSA PCM name ("default", "dsnoop", "plughw:CARD=PCH", or one defined
    /// in `configuration`, ALSA configuration text merged into the host's for this source only).
    public init(device: String, periodMicroseconds: Int = 10_000, bufferMicroseconds: Int = 500_000,
                configuration: String? = nil, logger: Logger) {
        precondition(periodMicroseconds > 0 && bufferMicroseconds >= 2 * periodMicroseconds)
        self.device = device
        self.periodMicroseconds = periodMicroseconds
        self.bufferMicroseconds = bufferMicroseconds
        self.configuration = configuration
        self.logger = logger
        // The device opens when a stream starts, inside the sandbox; libasound must be mapped before.
        if avp_alsa_load() != 0 { logger.error("sound: libasound.so.2 could not be opened; capture from \(device) will fail") }
    }

    public var counters: Counters { totals.withLock { $0 } }

    /// Opens the device for `stream`, in its format; `.busy` when the device takes no more.
    public func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSourcePort {
        let frames = { (microseconds: Int) in max(1, format.rate * microseconds / 1_000_000) }
        let pcm: ALSAPCM
        do {
            pcm = try ALSAPCM(device: device, direction: .capture, format: format, periodFrames: frames(periodMicroseconds),
                              bufferFrames: frames(bufferMicroseconds), configuration: configuration)
        } catch {
            logger.error("sound: \(stream): \(error)")
            throw error
        }
        logger.info("sound: \(stream) records from \(pcm.name): \(format), period \(pcm.periodFrames) frames, buffer \(pcm.bufferFrames) frames")
        return Port(source: self, stream: stream, pcm: pcm)
    }

    /// One stream's open capture device. Read on the stream's clock thread; the lock only
    /// keeps `close` (the stream's server thread) from freeing the device under a read.
    private final class Port: SoundSourcePort {
        let source: ALSASource
        let stream: SoundStreamTag
        let frameBytes: Int

        private struct State {
            var pcm: ALSAPCM?
            var backlog: ALSACaptureBacklog
            var overrunLog = LogSampler()
            var warnedLongReads = false
        }
        private let state: Mutex<State>

        init(source: ALSASource, stream: SoundStreamTag, pcm: ALSAPCM) {
            self.source = source
            self.stream = stream
            frameBytes = pcm.format.frameBytes
            let backlog = ALSACaptureBacklog(cushion: pcm.periodFrames, capacity: pcm.bufferFrames)
            state = Mutex(State(pcm: pcm, backlog: backlog))
        }

        /// What one read did, for the counters and the log (outside the lock).
        private struct Outcome {
            var read = 0, skipped = 0, overruns = 0, totalOverruns = 0
            var logOverrun = false
            /// Set once: the stream reads more per period than the device buffer holds.
            var longReads: (wanted: Int, capacity: Int)?
        }

        func read(into frames: UnsafeMutableRawBufferPointer) throws(SoundHostError) {
            // Silence first: whatever the device does not fill stays silent (ALSA's null
            // device reports frames read without writing them).
            if let base = frames.baseAddress { base.initializeMemory(as: UInt8.self, repeating: 0, count: frames.count) }
            let wanted = frames.count / frameBytes
            let outcome = try state.withLock { (s) throws(SoundHostError) -> Outcome in
                guard let pcm = s.pcm else { throw .closed }
                var outcome = Outcome()
                if wanted > s.backlog.capacity - s.backlog.cushion, !s.warnedLongReads {
                    s.warnedLongReads = true
                    outcome.longReads = (wanted, s.backlog.capacity)
                }
                let ready = try pcm.available()
                let plan = s.backlog.plan(available: ready.frames, wanted: wanted)
                if plan.skip > 0 { outcome.skipped = try pcm.skip(plan.skip) }
                let got = try pcm.read(into: frames, frames: plan.read)
                s.backlog.received(got.frames, wanted: wanted)
                outcome.read = got.frames
                outcome.overruns = ready.overruns + got.overruns
                for _ in 0..<outcome.overruns where s.overrunLog.record() { outcome.logOverrun = true }
                outcome.totalOverruns = s.overrunLog.count
                return outcome
            }
            source.totals.withLock { t in
                t.capturedFrames += outcome.read
                t.silentFrames += wanted - outcome.read
                t.skippedFrames += outcome.skipped
                t.overruns += outcome.overruns
            }
            if let long = outcome.longReads {
                source.logger.warning("sound: \(stream) reads \(long.wanted) frames a period, more than ALSA capture device '\(source.device)' buffers (\(long.capacity)): expect gaps")
            }
            if outcome.logOverrun {
                source.logger.warning("sound: ALSA capture device '\(source.device)' overran for \(stream) (\(outcome.totalOverruns) so far): frames lost")
            }
        }

        func close() {
            state.withLock { s in
                s.pcm?.close(drain: false)
                s.pcm = nil
            }
        }
    }
}
