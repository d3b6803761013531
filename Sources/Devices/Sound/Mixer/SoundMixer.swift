#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SystemCalls
import Virtio

/// The host's mixer (AVPS §2.9): every VM's playback streams into one host output, under the
/// host's `AudioPolicy`. A `SoundSink`: each stream connects a port (`MixerPort`) that converts
/// its frames to the mix's format (`PCMConverter`) into a ring (`MixerChannel`); the mixer's
/// own thread takes one period (10 ms) from every ring, applies each stream's gain — its VM's
/// volume and mute, its role's ducking (`DuckingEnvelope`), none of that for a safety role —
/// adds them up and writes the period to the output.
///
/// Who keeps time: a file output takes periods as fast as they come, so a `PCMStreamClock`
/// paces the mixer; a sound card's blocking writes pace it themselves (`SoundOutput.keepsTime`).
/// Gains change linearly over one period, so a volume change or a mute never clicks.
public final class SoundMixer: SoundSink, @unchecked Sendable {
    public let output: any SoundOutput
    /// Frames per mixer period: 10 ms of the output's rate.
    public let periodFrames: Int
    /// How far ahead of real time a self-timed output may be written (`SoundOutput.keepsTime`).
    static let maxLead: UInt64 = 100_000_000

    /// 10 ms of frames at `rate`: the mixer's period (an ALSA output is opened with it).
    public static func periodFrames(at rate: Int) -> Int { max(1, rate / 100) }

    /// Seconds of frames one stream's ring holds at most (older frames are dropped beyond it).
    public static let ringSeconds = 0.5

    struct State {
        var policy: AudioPolicy
        var channels: [Int: MixerChannel] = [:]
        var nextChannel = 0
        var envelopes: [String: DuckingEnvelope] = [:]
        /// Frames mixed since the mixer started: the mixer's notion of time.
        var timeline = 0
        /// Stopping: every ring plays out, margin or not.
        var draining = false
        var meter: LevelMeter
        var statistics = MixerStatistics()
        var outputErrors = LogSampler()
    }
    let state: Mutex<State>
    let logger: Logger
    /// One period of silence in the output's encoding.
    private let silence: [UInt8]
    private var clock: PCMStreamClock?
    private var thread: OSThread?
    private let stopped = Atomic<Bool>(false)

    /// Who calls `mixPeriod`: the mixer's own thread, or (tests) the caller.
    enum Pacing { case ownThread, caller }

    /// Starts mixing into `output` at once (silence until a stream plays).
    public convenience init(output: any SoundOutput, policy: AudioPolicy, logger: Logger) throws(Errno) {
        try self.init(output: output, policy: policy, logger: logger, pacing: .ownThread)
    }

    init(output: any SoundOutput, policy: AudioPolicy, logger: Logger, pacing: Pacing) throws(Errno) {
        self.output = output
        self.logger = logger
        periodFrames = Self.periodFrames(at: output.format.rate)
        silence = [UInt8](repeating: 0, count: periodFrames * output.format.frameBytes)
        state = Mutex(State(policy: policy, meter: LevelMeter(roles: policy.roles.map(\.name), rate: output.format.rate)))
        if pacing == .caller { return }
        if output.keepsTime {
            let start = MonotonicClock.nanoseconds(), rate = UInt64(output.format.rate)
            thread = try OSThread(name: "avp-snd-mixer") { [weak self] in
                while let self, !self.stopped.load(ordering: .acquiring) {
                    self.tick()
                    // A device that takes frames faster than it plays them (ALSA's null or file
                    // plugins) would make this loop spin: never run more than 100 ms ahead of the clock.
                    let played = UInt64(self.state.withLock { $0.timeline }) * 1_000_000_000 / rate
                    let elapsed = MonotonicClock.nanoseconds() - start
                    if played > elapsed + Self.maxLead { usleep(UInt32((played - elapsed - Self.maxLead) / 1000)) }
                }
            }
        } else {
            clock = try PCMStreamClock(name: "avp-snd-mixer", periodFrames: periodFrames, rate: output.format.rate) { [weak self] in
                self?.tick()
            }
        }
    }

    /// Stops the mixer's thread, then mixes out what the streams' rings still hold (frames
    /// whose messages the guests were already told were played); the output is then the
    /// caller's to close.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        clock?.stop()
        thread?.join()
        clock = nil
        thread = nil
        state.withLock { $0.draining = true }
        let most = Int(Double(output.format.rate) * Self.ringSeconds) / periodFrames + 1
        for _ in 0..<most where state.withLock({ $0.channels.values.contains { $0.ring.frames > 0 } }) { tick() }
    }

    deinit { stop() }

    public var format: PCMStreamFormat { output.format }

    // MARK: SoundSink

    public func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSinkPort {
        let id = state.withLock { s -> Int in
            let vm = s.policy.vm(named: stream.origin)
            let roleName = vm.flatMap { Int(stream.stream) < $0.playback.count ? $0.playback[Int(stream.stream)] : nil }
            let role = roleName.flatMap(s.policy.role(named:)) ?? s.policy.defaultRole
            let capacity = Int(Double(output.format.rate) * Self.ringSeconds)
            let id = s.nextChannel
            s.nextChannel += 1
            s.channels[id] = MixerChannel(tag: stream, role: role, ring: SampleRing(channels: output.format.channels, capacityFrames: capacity),
                                          threshold: 2 * periodFrames)
            return id
        }
        return MixerPort(mixer: self, channel: id, converter: PCMConverter(from: format, to: output.format))
    }

    // MARK: Ports (each stream's clock thread)

    func append(_ samples: [Float], to id: Int, fromGuest: Bool, chunkFrames: Int) {
        state.withLock { s in
            guard var c = s.channels[id], !c.closed else { return }
            let dropped = fromGuest ? c.ring.append(samples) : c.ring.appendSilence(chunkFrames)
            c.droppedFrames += dropped
            if fromGuest {
                c.lastFrames = s.timeline
                c.chunkFrames = chunkFrames
                c.threshold = min(c.ring.capacityFrames / 2, chunkFrames + 2 * periodFrames)
            }
            s.channels[id] = c
        }
    }

    /// Frames of `id` waiting to be heard: its ring and the output's own delay.
    func delayFrames(of id: Int) -> Int {
        state.withLock { $0.channels[id]?.ring.frames ?? 0 } + output.delayFrames
    }

    /// The stream is released: what its ring holds still plays, then it leaves the mix.
    func close(_ id: Int) {
        state.withLock { s in s.channels[id]?.closed = true }
    }

    // MARK: The mixer's thread

    private func tick() {
        let mix = mixPeriod()
        do {
            try mix.withBytes { (b) throws(SoundHostError) in try output.write(b) }
        } catch {
            let log = state.withLock { s -> Bool in
                s.statistics.outputErrors += 1
                return s.outputErrors.record()
            }
            if log { logger.error("sound: the mixer's output: \(error) (\(state.withLock { $0.statistics.outputErrors }) so far)") }
            // A card that fails at once must not turn the mixer's thread into a busy loop.
            if output.keepsTime { usleep(10_000) }
        }
    }

    /// One period of the mix, encoded in the output's sample format.
    func mixPeriod() -> [UInt8] {
        let channels = output.format.channels, rate = output.format.rate
        var mix = [Float](repeating: 0, count: periodFrames * channels)
        let silent = state.withLock { s -> Bool in
            // Nothing plays and nothing is still releasing: the period is silence, and nothing but time changes.
            guard s.channels.isEmpty, s.envelopes.values.allSatisfy({ $0.decibels == 0 }) else { return false }
            s.meter.add(roleEnergy: [:], mix: 0, samples: periodFrames * channels, channels: channels)
            s.statistics.periods += 1
            s.timeline += periodFrames
            return true
        }
        if silent { return silence }
        state.withLock { s in
            let now = s.timeline
            let playing = Set(s.channels.values.filter { $0.isPlaying(at: now, rate: rate) }.map(\.role.name))
            for role in s.policy.roles {
                let rules = s.policy.ducking.filter { $0.duck == role.name && playing.contains($0.when) && !role.safety }
                s.envelopes[role.name, default: DuckingEnvelope()].advance(toward: rules, seconds: Double(periodFrames) / Double(rate))
            }
            var roleEnergy: [String: Double] = [:]
            for id in s.channels.keys.sorted() {
                guard var c = s.channels[id] else { continue }
                let target = gain(of: c, in: s)
                if c.filling {
                    guard c.ring.frames >= c.threshold || ((c.closed || s.draining) && c.ring.frames > 0) else {
                        if c.closed { s.channels[id] = nil } else { c.gain = target; s.channels[id] = c }
                        continue
                    }
                    c.filling = false
                }
                let (taken, energy) = c.ring.mix(into: &mix, count: periodFrames, gain: (c.gain, target))
                roleEnergy[c.role.name, default: 0] += energy
                c.gain = target
                if taken < periodFrames {
                    if c.closed { s.channels[id] = nil; continue }
                    // The guest's frames came later than the margin allows: heard as silence.
                    if c.isPlaying(at: now, rate: rate) { c.underruns += 1; s.statistics.underruns += 1 }
                    c.filling = true
                }
                s.channels[id] = c
            }
            s.meter.add(roleEnergy: roleEnergy, mix: mix.reduce(0) { $0 + Double($1 * $1) }, samples: mix.count, channels: channels)
            s.statistics.periods += 1
            s.timeline += periodFrames
        }
        return PCMConverter.encode(mix, as: output.format.sample)
    }

    /// A stream's gain now: a safety role's is unity; others take their VM's volume and mute
    /// and their role's ducking.
    private func gain(of c: MixerChannel, in s: State) -> Float {
        guard !c.role.safety else { return 1 }
        let vm = s.policy.vm(named: c.tag.origin)
        if vm?.muted == true { return 0 }
        return amplitude(decibels: (vm?.volume ?? 0) - (s.envelopes[c.role.name]?.decibels ?? 0))
    }
}

/// What the mixer has done since it started.
public struct MixerStatistics: Sendable, Equatable, Codable {
    /// Periods mixed and handed to the output.
    public var periods = 0
    /// Periods in which a playing stream had too few frames (heard as silence).
    public var underruns = 0
    /// Writes the output refused.
    public var outputErrors = 0
}

// MARK: The host's control

extension SoundMixer {
    /// Sets a VM's volume (attenuation only: `AudioVM.volumeRange`); its safety streams keep unity.
    public func setVolume(of vm: String, decibels: Double) throws(AudioControlError) {
        guard AudioVM.volumeRange.contains(decibels) else { throw .volumeOutOfRange(decibels) }
        try changeVM(vm) { $0.volume = decibels }
    }

    /// Mutes or unmutes a VM; its safety streams are never muted.
    public func setMuted(_ vm: String, _ muted: Bool) throws(AudioControlError) {
        try changeVM(vm) { $0.muted = muted }
    }

    private func changeVM(_ name: String, _ change: (inout AudioVM) -> Void) throws(AudioControlError) {
        try state.withLock { (s) throws(AudioControlError) in
            guard let i = s.policy.vms.firstIndex(where: { $0.name == name }) else {
                throw .unknownVM(name, known: s.policy.vms.map(\.name))
            }
            change(&s.policy.vms[i])
        }
    }

    /// The last minute's levels, per role and of the mix.
    public var levels: MixerLevels {
        state.withLock { s in
            MixerLevels(windowMilliseconds: s.meter.windowFrames * 1000 / output.format.rate,
                        roles: zip(s.meter.roles, s.meter.history).map { MixerLevels.Role(name: $0, decibels: $1) }, mix: s.meter.mixHistory)
        }
    }

    /// The policy as it now is, what plays, and the counters.
    public var status: MixerStatus {
        state.withLock { s in
            let playing = s.channels.values.filter { $0.isPlaying(at: s.timeline, rate: output.format.rate) }
            return MixerStatus(
                vms: s.policy.vms.map { MixerStatus.VM(name: $0.name, volume: $0.volume, muted: $0.muted, playback: $0.playback) },
                roles: s.policy.roles.map { r in
                    MixerStatus.Role(name: r.name, priority: r.priority, safety: r.safety, ducked: s.envelopes[r.name]?.decibels ?? 0,
                                     playing: playing.filter { $0.role.name == r.name }.count)
                },
                rules: s.policy.ducking.map(\.description), statistics: s.statistics)
        }
    }
}
