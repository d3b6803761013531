import Logging
import Synchronization
import Virtio

/// The mix played on a sound card through ALSA (libasound): the output of a car, where the
/// card's crystal, not the host's clock, decides how fast frames go. So `keepsTime` is true:
/// `write` blocks until the card has room for the period, and the mixer runs at the card's pace.
///
/// Playback starts once the device buffer (`bufferPeriods` periods) is full and stays about
/// that full; that buffer is what the mix is late by, and what `delayFrames` reports (ALSA's
/// `snd_pcm_delay`, sampled after each write). A period the mixer hands over late empties the
/// buffer: ALSA stops (an underrun), `snd_pcm_recover` prepares it again and the write goes on;
/// each is counted in `underruns` and logged (sampled).
///
/// `device` is any ALSA PCM name: "default", "plughw:CARD=PCH" (converts format and rate),
/// "hw:0,0" (exactly what the card takes, or a clear error), "dmix", or one defined in
/// `configuration`, ALSA configuration text merged into the host's for this device only.
/// ALSA's "null" and "file:" devices take frames at once and keep no time (ALSATests found
/// so): a mixer on them would run flat out. They are for tests; a file wants `WAVFileOutput`.
public final class ALSAOutput: SoundOutput {
    public let device: String
    public let format: PCMStreamFormat
    /// The period and buffer the device granted (it picks those nearest to what was asked).
    public let periodFrames: Int
    public let bufferFrames: Int

    private struct State {
        var pcm: ALSAPCM?
        var underrunLog = LogSampler()
    }
    /// Held across each blocking write, so `close` waits for the write under way (at most a
    /// period on a card) rather than freeing the handle under it.
    private let state: Mutex<State>
    /// Read from other threads without waiting for a write: kept apart from `state`.
    private let underrunCount = Atomic<Int>(0)
    private let delay = Atomic<Int>(0)
    private let logger: Logger

    /// Opens `device` for playback in `format`, with periods of about `periodFrames` (the
    /// mixer's period) and a buffer of about `bufferPeriods` of them.
    public init(device: String, format: PCMStreamFormat, periodFrames: Int, bufferPeriods: Int = 4,
                configuration: String? = nil, logger: Logger) throws(SoundHostError) {
        precondition(periodFrames > 0 && bufferPeriods >= 2)
        let pcm = try ALSAPCM(device: device, direction: .playback, format: format, periodFrames: periodFrames,
                              bufferFrames: periodFrames * bufferPeriods, configuration: configuration)
        self.device = device
        self.format = format
        self.periodFrames = pcm.periodFrames
        self.bufferFrames = pcm.bufferFrames
        self.logger = logger
        logger.info("sound: \(pcm.name): \(format), period \(pcm.periodFrames) frames, buffer \(pcm.bufferFrames) frames")
        state = Mutex(State(pcm: pcm))
    }

    deinit {
        // Not `close()`: a dropped output need not play out what it holds.
        state.withLock { $0.pcm?.close(drain: false) }
    }

    /// The card plays at its own rate; writes wait for it.
    public var keepsTime: Bool { true }

    /// Underruns recovered since the device was opened.
    public var underruns: Int { underrunCount.load(ordering: .relaxed) }

    /// Frames written but not yet played, as ALSA said after the last write.
    public var delayFrames: Int { delay.load(ordering: .relaxed) }

    public func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) {
        let (underruns, log) = try state.withLock { (s) throws(SoundHostError) -> (Int, Bool) in
            guard let pcm = s.pcm else { throw .closed }
            let underruns = try pcm.write(frames)
            delay.store(pcm.delayFrames, ordering: .relaxed)
            var log = false
            for _ in 0..<underruns where s.underrunLog.record() { log = true }
            return (underruns, log)
        }
        guard underruns > 0 else { return }
        let total = underrunCount.add(underruns, ordering: .relaxed).newValue
        if log { logger.warning("sound: ALSA playback device '\(device)' ran dry (underrun \(total)); the mix came late") }
    }

    /// Plays out what the device holds (at most a buffer), then closes it.
    public func close() {
        state.withLock { s in
            s.pcm?.close(drain: true)
            s.pcm = nil
        }
        delay.store(0, ordering: .relaxed)
    }
}
