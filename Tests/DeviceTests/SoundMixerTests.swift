@testable import Devices
import Foundation
import Logging
import Synchronization
import Testing

/// An output that keeps every period the mixer hands it.
final class CapturingOutput: SoundOutput, @unchecked Sendable {
    let format: PCMStreamFormat
    private let bytes = Mutex<[UInt8]>([])
    init(format: PCMStreamFormat) { self.format = format }
    var keepsTime: Bool { false }
    func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) { bytes.withLock { $0 += frames } }
    var delayFrames: Int { 0 }
    func close() {}
    var written: [UInt8] { bytes.withLock { $0 } }
    /// The float samples written (a float output).
    var samples: [Float] {
        let b = written
        return stride(from: 0, to: b.count, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }
}

/// Mono float frames of one value.
private func constant(_ value: Float, frames: Int) -> [UInt8] {
    var out: [UInt8] = []
    for _ in 0..<frames { withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 } }
    return out
}

private func decibels(_ ratio: Float) -> Double { 20 * log10(Double(ratio)) }

@Suite struct SoundMixing {
    let logger = Logger(label: "test.mixer")
    static let mono = PCMStreamFormat(sample: .float, rate: 48000, channels: 1)

    /// The cockpit: ivi plays media, the cluster navigation and a chime; navigation ducks media by 12 dB.
    static let policy = AudioPolicy(ducking: [DuckingRule(when: "navigation", duck: "media", decibels: 12, attackMilliseconds: 100,
                                                          releaseMilliseconds: 300)],
                                    vms: [AudioVM(name: "ivi", playback: ["media"]), AudioVM(name: "cluster", playback: ["navigation", "chime"])])

    func mixer(_ policy: AudioPolicy = Self.policy, format: PCMStreamFormat = Self.mono) throws -> (SoundMixer, CapturingOutput) {
        let output = CapturingOutput(format: format)
        return (try SoundMixer(output: output, policy: policy, logger: logger, pacing: .caller), output)
    }

    /// Each period: every port gets one mixer period of its value, then the mixer mixes; returns the last sample.
    @discardableResult
    func run(_ mixer: SoundMixer, _ output: CapturingOutput, periods: Int, _ ports: [(any SoundSinkPort, Float)]) throws -> Float {
        for _ in 0..<periods {
            for (port, value) in ports { try constant(value, frames: mixer.periodFrames).withUnsafeBytes { try port.write($0) } }
            try mixer.mixPeriod().withUnsafeBytes { try output.write($0) }
        }
        return output.samples.last ?? .nan
    }

    @Test("one stream at unity reaches the output bit-exact (S16 in, S16 out) after its jitter margin, then silence")
    func unityIsBitExact() throws {
        let s16 = PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)
        let output = CapturingOutput(format: s16)
        let mixer = try SoundMixer(output: output, policy: AudioPolicy(vms: [AudioVM(name: "guest", playback: ["media"])]),
                                   logger: logger, pacing: .caller)
        let port = try mixer.connect(SoundStreamTag(origin: "guest", stream: 0), format: s16)
        let signal = soundSine(frames: 960 * 10, frequency: 997)
        for chunk in stride(from: 0, to: signal.count, by: 960 * 4) {
            try Array(signal[chunk..<chunk + 960 * 4]).withUnsafeBytes { try port.write($0) }
            for _ in 0..<2 { try mixer.mixPeriod().withUnsafeBytes { try output.write($0) } }
        }
        port.close()
        for _ in 0..<30 { try mixer.mixPeriod().withUnsafeBytes { try output.write($0) } }
        let out = output.written
        // The sine starts at zero: align on the first sample that is not.
        let start = try #require(out.firstIndex { $0 != 0 }) - (try #require(signal.firstIndex { $0 != 0 }))
        try #require(start >= 0 && start % 4 == 0 && out.count >= start + signal.count, "\(start) of \(out.count)")
        let bitExact = Array(out[start..<start + signal.count]) == signal
        #expect(bitExact)
        #expect(out[start + signal.count..<out.count].allSatisfy { $0 == 0 }, "silence once the stream closed")
        #expect(mixer.status.statistics.underruns == 0)
    }

    @Test("AVPS §2.9: navigation playing ducks media by 12 dB within its attack time; media comes back after release")
    func ducking() throws {
        let (mixer, output) = try mixer()
        let media = try mixer.connect(SoundStreamTag(origin: "ivi", stream: 0), format: Self.mono)
        let before = try run(mixer, output, periods: 20, [(media, 0.5)])
        #expect(before == 0.5)
        let navigation = try mixer.connect(SoundStreamTag(origin: "cluster", stream: 0), format: Self.mono)
        // The attack is 100 ms = 10 periods; the stream's margin delays nothing of the ducking.
        let during = try run(mixer, output, periods: 15, [(media, 0.5), (navigation, 0)])
        #expect(abs(decibels(during / 0.5) + 12) < 0.01, "media at \(decibels(during / 0.5)) dB")
        #expect(mixer.status.roles.first { $0.name == "media" }?.ducked == 12)
        navigation.close()
        // Playing ends a tenth of a second after its last frames (held) plus its margin; the release takes 300 ms.
        let after = try run(mixer, output, periods: 60, [(media, 0.5)])
        #expect(after == 0.5)
        // From the stream's first frames on (a stream joins the mix at its gain, without a fade-in).
        let heard = output.samples.drop { $0 == 0 }
        #expect(!heard.isEmpty && heard.allSatisfy { decibels($0 / 0.5) <= 0.001 && decibels($0 / 0.5) >= -12.01 }, "never beyond the rule's depth")
    }

    @Test("a safety chime is never ducked, muted or turned down; other streams of its VM are")
    func chimeIsNeverAttenuated() throws {
        let (mixer, output) = try mixer()
        let navigation = try mixer.connect(SoundStreamTag(origin: "cluster", stream: 0), format: Self.mono)
        let chime = try mixer.connect(SoundStreamTag(origin: "cluster", stream: 1), format: Self.mono)
        try mixer.setVolume(of: "cluster", decibels: -40)
        #expect(try run(mixer, output, periods: 20, [(navigation, 0), (chime, 0.25)]) == 0.25)
        try mixer.setMuted("cluster", true)
        #expect(try run(mixer, output, periods: 5, [(navigation, 0.5), (chime, 0.25)]) == 0.25)
        try mixer.setMuted("cluster", false)
        let turnedDown = try run(mixer, output, periods: 5, [(navigation, 0.5), (chime, 0)])
        #expect(abs(decibels(turnedDown / 0.5) + 40) < 0.01)
        #expect(AudioPolicy(ducking: [DuckingRule(when: "navigation", duck: "chime", decibels: 6)]).problems
            == [.duckingSafetyRole(DuckingRule(when: "navigation", duck: "chime", decibels: 6)),
                .duckingNotLower(DuckingRule(when: "navigation", duck: "chime", decibels: 6), 50, 100)])
    }

    @Test("volume and mute apply per VM and change over one period without a click")
    func volumeAndMute() throws {
        let (mixer, output) = try mixer()
        let media = try mixer.connect(SoundStreamTag(origin: "ivi", stream: 0), format: Self.mono)
        try run(mixer, output, periods: 10, [(media, 0.5)])
        try mixer.setVolume(of: "ivi", decibels: -6)
        let count = output.samples.count
        let lowered = try run(mixer, output, periods: 2, [(media, 0.5)])
        #expect(abs(decibels(lowered / 0.5) + 6) < 0.01)
        let ramp = Array(output.samples[count..<count + mixer.periodFrames])
        #expect(zip(ramp, ramp.dropFirst()).allSatisfy { $0 >= $1 } && ramp.first! > ramp.last!, "a ramp, not a step")
        try mixer.setMuted("ivi", true)
        #expect(try run(mixer, output, periods: 2, [(media, 0.5)]) == 0)
        #expect(throws: AudioControlError.unknownVM("rear", known: ["ivi", "cluster"])) { try mixer.setMuted("rear", true) }
        #expect(throws: AudioControlError.volumeOutOfRange(6)) { try mixer.setVolume(of: "ivi", decibels: 6) }
        #expect(throws: AudioControlError.self) { try mixer.setVolume(of: "ivi", decibels: .nan) }
    }

    @Test("a guest's underrun is silence in its place; a stream far ahead loses its oldest frames, never memory")
    func underrunAndBound() throws {
        let (mixer, output) = try mixer()
        let media = try mixer.connect(SoundStreamTag(origin: "ivi", stream: 0), format: Self.mono)
        try run(mixer, output, periods: 10, [(media, 0.5)])
        media.gap(frames: mixer.periodFrames)
        _ = mixer.mixPeriod()
        try run(mixer, output, periods: 5, [(media, 0.5)])
        #expect(mixer.status.statistics.underruns == 0, "the gap kept the stream's margin")
        let ahead = constant(0.5, frames: 48000 * 3)
        try ahead.withUnsafeBytes { try media.write($0) }
        #expect(mixer.delayFrames(of: 0) <= Int(48000 * SoundMixer.ringSeconds))
    }

    @Test("streams of other formats are converted; several add up")
    func conversionAndSum() throws {
        let (mixer, output) = try mixer()
        let media = try mixer.connect(SoundStreamTag(origin: "ivi", stream: 0), format: PCMStreamFormat(sample: .s16, rate: 24000, channels: 2))
        let chime = try mixer.connect(SoundStreamTag(origin: "cluster", stream: 1), format: Self.mono)
        let quarter = [UInt8](repeating: 0, count: 0) + (0..<240 * 2).flatMap { _ in withUnsafeBytes(of: Int16(8192).littleEndian) { Array($0) } }
        for _ in 0..<20 {
            try quarter.withUnsafeBytes { try media.write($0) }
            try constant(0.25, frames: 480).withUnsafeBytes { try chime.write($0) }
            try mixer.mixPeriod().withUnsafeBytes { try output.write($0) }
        }
        #expect(output.samples.last == 0.5)
    }

    @Test("an output that claims to keep time but never blocks (ALSA's null) does not make the mixer spin ahead")
    func selfTimedOutputCannotRunAway() throws {
        final class Bottomless: SoundOutput, @unchecked Sendable {
            let format = SoundMixing.mono
            let writes = Atomic<Int>(0)
            var keepsTime: Bool { true }
            func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) { writes.add(1, ordering: .relaxed) }
            var delayFrames: Int { 0 }
            func close() {}
        }
        let output = Bottomless()
        let started = Date()
        let mixer = try SoundMixer(output: output, policy: Self.policy, logger: logger)
        usleep(300_000)
        mixer.stop()
        let elapsed = Date().timeIntervalSince(started)
        // At most 100 ms ahead of the clock, in 10 ms periods (a slow host only writes fewer).
        #expect(output.writes.load(ordering: .relaxed) <= Int((elapsed + 0.1) * 100) + 2, "\(output.writes.load(ordering: .relaxed)) periods in \(elapsed) s")
    }
}
