@testable import Devices
import Foundation
import Logging
import Testing

/// Interleaved S16 frames of a sine: `frequency` Hz at `rate`, half of full scale, the right
/// channel inverted (so a swap of channels would show).
func soundSine(frames: Int, frequency: Double = 1000, rate: Int = 48000, channels: Int = 2) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(frames * channels * 2)
    for i in 0..<frames {
        let v = Int16((0.5 * 32767 * sin(2 * Double.pi * frequency * Double(i) / Double(rate))).rounded())
        for c in 0..<channels { withUnsafeBytes(of: (c == 1 ? 0 &- v : v).littleEndian) { out += $0 } }
    }
    return out
}

/// The samples of channel `channel` of interleaved S16 frames.
func soundChannel(_ bytes: some Collection<UInt8>, channel: Int = 0, channels: Int = 2) -> [Int16] {
    let b = Array(bytes)
    return stride(from: channel * 2, to: b.count - 1, by: channels * 2).map { Int16(bitPattern: UInt16(b[$0]) | UInt16(b[$0 + 1]) << 8) }
}

/// A signal's frequency from its rising zero crossings, interpolated between samples.
func soundFrequency(_ samples: [Int16], rate: Int) -> Double {
    var crossings: [Double] = []
    for i in 1..<samples.count where samples[i - 1] < 0 && samples[i] >= 0 {
        let a = Double(samples[i - 1]), b = Double(samples[i])
        crossings.append(Double(i - 1) + -a / (b - a))
    }
    guard crossings.count >= 2 else { return 0 }
    return Double(crossings.count - 1) * Double(rate) / (crossings.last! - crossings.first!)
}

@Suite struct SoundWAVFiles {
    let logger = Logger(label: "test.sound")

    @Test("a WAV output writes a RIFF header whose sizes follow the samples, and the samples bit-exact")
    func recordsBitExact() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-sound-\(UInt32.random(in: 0...UInt32.max)).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let format = PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)
        let output = try WAVFileOutput(path: path, format: format, logger: logger)
        let signal = soundSine(frames: 4800)
        for chunk in stride(from: 0, to: signal.count, by: 1920) {
            try Array(signal[chunk..<min(signal.count, chunk + 1920)]).withUnsafeBytes { try output.write($0) }
        }
        output.close()
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let (read, data) = try WAVHeader.parse(file)
        #expect(read == format && Array(data) == signal && file.count == 44 + signal.count)
        #expect(Array(file.prefix(44)) == WAVHeader(format: format, dataBytes: UInt32(signal.count)).bytes)
        #expect(throws: SoundHostError.closed) { try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try output.write($0) } }
    }

    @Test("a recording cut short (its header behind) still reads to the end of the file")
    func readsCutShort() throws {
        let format = PCMStreamFormat(sample: .float, rate: 8000, channels: 1)
        let samples = [UInt8](repeating: 7, count: 40)
        let file = WAVHeader(format: format, dataBytes: 8).bytes + samples + [1, 2]
        let (read, data) = try WAVHeader.parse(file)
        #expect(read == format && data.count == 40, "whole frames only")
        #expect(throws: WAVHeader.ParseError.notRIFFWave) { try WAVHeader.parse(Array("RIFX".utf8)) }
    }
}

@Suite struct SoundConversion {
    let logger = Logger(label: "test.sound")

    @Test("S16 to S16 (the mixer's way: through samples) is unchanged; S16 to S32 and mono to stereo are exact")
    func exactConversions() {
        let s16 = PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)
        let signal = soundSine(frames: 480)
        var same = PCMConverter(from: s16, to: s16)
        #expect(signal.withUnsafeBytes { same.convert($0) } == signal)
        var wider = PCMConverter(from: s16, to: PCMStreamFormat(sample: .s32, rate: 48000, channels: 2))
        let s32 = signal.withUnsafeBytes { wider.convert($0) }
        #expect(s32.count == signal.count * 2)
        let widened = (0..<signal.count / 2).map { i -> Bool in
            s32[4 * i] == 0 && s32[4 * i + 1] == 0 && s32[4 * i + 2] == signal[2 * i] && s32[4 * i + 3] == signal[2 * i + 1]
        }
        #expect(!widened.contains(false), "the 16 bits become the top half")
        let mono = soundSine(frames: 100, channels: 1)
        var spread = PCMConverter(from: PCMStreamFormat(sample: .s16, rate: 48000, channels: 1), to: s16)
        let stereo = mono.withUnsafeBytes { spread.convert($0) }
        #expect(soundChannel(stereo, channel: 0) == soundChannel(mono, channels: 1) && soundChannel(stereo, channel: 1) == soundChannel(mono, channels: 1))
    }

    @Test("8 kHz to 48 kHz keeps the tone and the length, across calls")
    func resamples() {
        let from = PCMStreamFormat(sample: .s16, rate: 8000, channels: 1), to = PCMStreamFormat(sample: .s16, rate: 48000, channels: 1)
        var converter = PCMConverter(from: from, to: to)
        let signal = soundSine(frames: 8000, frequency: 440, rate: 8000, channels: 1)
        var out: [UInt8] = []
        for chunk in stride(from: 0, to: signal.count, by: 160) {
            out += Array(signal[chunk..<chunk + 160]).withUnsafeBytes { converter.convert($0) }
        }
        #expect(abs(out.count / 2 - 48000) <= 6)
        #expect(abs(soundFrequency(soundChannel(out, channels: 1), rate: 48000) - 440) < 1)
    }

    @Test("a float NaN from a guest converts to silence and infinities to a bounded sample, never a trap, even mixed and muted")
    func nanIsSilence() throws {
        let float = PCMStreamFormat(sample: .float, rate: 48000, channels: 1)
        var converter = PCMConverter(from: float, to: PCMStreamFormat(sample: .s16, rate: 48000, channels: 1))
        let input = [Float.nan.bitPattern, Float.infinity.bitPattern, (-Float.infinity).bitPattern, Float.greatestFiniteMagnitude.bitPattern]
        let out = input.withUnsafeBytes { converter.convert($0) }
        #expect(soundChannel(out, channels: 1) == [0, 32767, -32768, 32767])
        var toFloat = PCMConverter(from: float, to: float)
        #expect(input.withUnsafeBytes { toFloat.samples($0) } == [0, 16, -16, 16])
        // ∞ − ∞ and ∞ × 0 are NaN: two guests' extremes added, then a mute's gain of 0.
        let output = CapturingOutput(format: PCMStreamFormat(sample: .s16, rate: 48000, channels: 1))
        let mixer = try SoundMixer(output: output, policy: AudioPolicy(vms: [AudioVM(name: "a", playback: ["media"], muted: true)]),
                                   logger: logger, pacing: .caller)
        let a = try mixer.connect(SoundStreamTag(origin: "a", stream: 0), format: float)
        let b = try mixer.connect(SoundStreamTag(origin: "b", stream: 0), format: float)
        let plus = [UInt32](repeating: Float.infinity.bitPattern, count: 960), minus = [UInt32](repeating: (-Float.infinity).bitPattern, count: 960)
        for _ in 0..<4 {
            try plus.withUnsafeBytes { try a.write($0) }
            try minus.withUnsafeBytes { try b.write($0) }
            try mixer.mixPeriod().withUnsafeBytes { try output.write($0) }
        }
        #expect(output.written.count == 4 * 480 * 2)
    }
}

@Suite struct SoundTestTone {
    @Test("the tone has its frequency and amplitude in each format", arguments: PCMSampleFormat.allCases)
    func toneFrequency(sample: PCMSampleFormat) throws {
        let format = PCMStreamFormat(sample: sample, rate: 44100, channels: 2)
        let port = try TestToneSource(frequency: 1000).connect(SoundStreamTag(origin: "t", stream: 1), format: format)
        var frames = [UInt8](repeating: 0, count: 44100 * format.frameBytes)
        for chunk in stride(from: 0, to: frames.count, by: 441 * format.frameBytes) {
            try frames[chunk..<chunk + 441 * format.frameBytes].withUnsafeMutableBytes { try port.read(into: $0) }
        }
        var s16 = PCMConverter(from: format, to: PCMStreamFormat(sample: .s16, rate: 44100, channels: 2))
        let left = soundChannel(frames.withUnsafeBytes { s16.convert($0) })
        #expect(abs(soundFrequency(left, rate: 44100) - 1000) < 0.5)
        #expect((16300...16400).contains(Int(left.max()!)))
    }
}

@Suite struct SoundTransferQueueRules {
    @Test("frames play in order across messages; a message finishes when its last byte played")
    func playsInOrder() {
        var queue = PCMTransferQueue<Int>(limit: 64)
        #expect(queue.admits(64) && !queue.admits(65))
        let chain = 1
        _ = queue.append(.output(chain, frames: Array(0..<24)))
        _ = queue.append(.output(chain, frames: Array(24..<48)))
        #expect(!queue.admits(17))
        var period: [UInt8] = []
        queue.running = true
        queue.play(16, into: &period, latencyBytes: 0)
        #expect(period == Array(0..<16) && queue.finished.isEmpty)
        queue.play(16, into: &period, latencyBytes: 0)
        #expect(period == Array(16..<32) && queue.finished.count == 1 && !queue.starved)
        queue.play(32, into: &period, latencyBytes: 3)
        #expect(period == Array(32..<48) && queue.starved, "16 bytes short: the period was starved")
        #expect(queue.takeFinished().map(\.latencyBytes) == [0, 3] && queue.heldBytes == 0)
        let late = queue.append(.output(chain, frames: [1, 2]))
        #expect(late, "a message after a starved period came late")
        let next = queue.append(.output(chain, frames: [3, 4]))
        #expect(!next)
    }

    @Test("a stream that starves and then stops has no xrun; RELEASE finishes what is pending")
    func endsCleanly() {
        var queue = PCMTransferQueue<Int>(limit: 64)
        let chain = 2
        queue.running = true
        var period: [UInt8] = []
        queue.play(8, into: &period, latencyBytes: 0)
        #expect(queue.starved)
        queue.running = false
        let stopped = queue.append(.output(chain, frames: [1, 2, 3, 4]))
        #expect(!stopped, "not running: no xrun")
        queue.flush(.ioError)
        #expect(queue.takeFinished().map(\.status) == [.ioError])
        _ = queue.append(.input(chain, capacity: 8))
        queue.running = true
        queue.record([1, 2, 3, 4, 5, 6][...])
        queue.record([7, 8, 9, 10][...])
        #expect(queue.takeFinished().map(\.transfer.frames) == [[1, 2, 3, 4, 5, 6, 7, 8]] && queue.starved, "9 and 10 found no room")
    }
}
