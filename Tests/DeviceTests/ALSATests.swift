@testable import Devices
import Foundation
import Logging
import Testing

// These run without a sound card, on the devices alsa-lib itself provides (alsa.conf):
//  - "null": playback discards, capture "reads" frames without writing them (alsa-lib 1.2.8's
//    pcm_null transfers nothing into the caller's buffer), and it keeps no time: its buffer is
//    always empty for playback and always full for capture, and snd_pcm_delay says 0.
//  - "file:'PATH',wav" (pcm.file: FILE and FORMAT over slave null) records what is played
//    to PATH, header fixed up on close; it keeps no time either (it is null underneath).
//    A `type file` definition with an `infile` also feeds capture from a raw file.
// So what is measured here is the data path, the errors and the non-blocking reads; a card's
// pacing and its underruns need a card (`ALSAOutput.keepsTime` is true: a card is what it is for).

/// Interleaved S16 stereo frames that show a lost, repeated, swapped or reordered frame or
/// channel: frame i is (7i, ~7i), wrapping.
private func alsaPattern(frames: Int, from first: Int = 0) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(frames * 4)
    for i in first..<(first + frames) {
        let left = Int16(truncatingIfNeeded: i &* 7)
        withUnsafeBytes(of: left.littleEndian) { out += $0 }
        withUnsafeBytes(of: (~left).littleEndian) { out += $0 }
    }
    return out
}

/// Where two byte strings first differ (nil if equal): a mismatch of megabytes reads as one line.
private func firstDifference(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Int? {
    if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return i }
    return a.count == b.count ? nil : min(a.count, b.count)
}

private func alsaTemporaryPath(_ suffix: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("avp-alsa-\(getpid())-\(UInt32.random(in: 0...UInt32.max))\(suffix)").path
}

private let stereo48k = PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)
private let tag = SoundStreamTag(origin: "test", stream: 0)

@Suite struct ALSAOutputTests {
    let logger = Logger(label: "test.alsa")

    @Test("frames written to an ALSA output reach the device bit-exact (ALSA's file plugin records them as WAV)")
    func fileDeviceRecordsBitExact() throws {
        let path = alsaTemporaryPath(".wav")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try ALSAOutput(device: "file:'\(path)',wav", format: stereo48k, periodFrames: 480, logger: logger)
        #expect(output.keepsTime && output.periodFrames == 480 && output.bufferFrames == 1920)
        // Ten seconds of sound in periods of 10 ms, each with its own frames.
        let periods = 1000
        let written = alsaPattern(frames: periods * 480)
        // Found here: null (under file) does not pace. Ten seconds go in at once (3 ms in a debug
        // build on the 2-core test host), so the mixer cannot lean on null for time: only a card blocks.
        try written.withUnsafeBytes { all in
            for p in 0..<periods { try output.write(UnsafeRawBufferPointer(rebasing: all[(p * 1920)..<((p + 1) * 1920)])) }
        }
        #expect(output.delayFrames == 0 && output.underruns == 0)
        output.close()
        #expect(throws: SoundHostError.closed) { try written.prefix(4).withUnsafeBytes { try output.write($0) } }

        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let (format, data) = try WAVHeader.parse(file)
        #expect(format == stereo48k)
        #expect(firstDifference(data, written) == nil, "the file differs from what was written")
        // The file plugin writes a buffer behind; closing flushed the rest: nothing missing at the end.
        #expect(file.count == 44 + periods * 480 * 4)
    }

    @Test("an ALSA output takes frames in any whole number per write, S32 and float too")
    func otherFormatsAndSizes() throws {
        for sample in [PCMSampleFormat.s32, .float] {
            let format = PCMStreamFormat(sample: sample, rate: 44100, channels: 1)
            let path = alsaTemporaryPath(".raw")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let output = try ALSAOutput(device: "file:'\(path)',raw", format: format, periodFrames: 441, logger: logger)
            let bytes = (0..<(5000 * 4)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            // 4000 frames, more than the device's whole buffer (4 × 441), then 1000.
            try bytes.prefix(4000 * 4).withUnsafeBytes { try output.write($0) }
            try bytes.dropFirst(4000 * 4).withUnsafeBytes { try output.write($0) }
            output.close()
            let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(firstDifference(file, bytes) == nil, "\(sample)")
        }
    }

    @Test("a device ALSA does not know fails with an error that names it and says why")
    func bogusDevice() {
        do {
            _ = try ALSAOutput(device: "avp-no-such-pcm", format: stereo48k, periodFrames: 480, logger: logger)
            Issue.record("opened a device that does not exist")
        } catch {
            guard case let .io(message) = error else { Issue.record("not an I/O error: \(error)"); return }
            #expect(message.contains("ALSA playback device 'avp-no-such-pcm'"), "\(message)")
            // ALSA's own diagnostic, kept from stderr and put in the message.
            #expect(message.contains("Unknown PCM avp-no-such-pcm"), "\(message)")
        }
    }

    @Test("configuration text that does not parse is reported, not ignored")
    func badConfiguration() {
        #expect {
            _ = try ALSAOutput(device: "avpbroken", format: stereo48k, periodFrames: 480,
                               configuration: "pcm.avpbroken { type file", logger: logger)
        } throws: { error in
            "\(error)".contains("ALSA playback device 'avpbroken'") && "\(error)".contains("_toplevel_:1")
        }
    }

    @Test("a busy device is .busy; a refused format names the value and the plug way out")
    func openErrors() {
        let busy = ALSAPCM.openError(-EBUSY, step: "open", name: "ALSA capture device 'hw:0'", format: stereo48k)
        guard case let .busy(text) = busy else { Issue.record("EBUSY is not busy: \(busy)"); return }
        #expect(text.contains("'hw:0' is in use"))
        let rate = ALSAPCM.openError(-EINVAL, step: "rate", name: "ALSA playback device 'hw:0'", format: stereo48k)
        #expect(rate.description.contains("does not take 48000 Hz") && rate.description.contains("plughw:"), "\(rate)")
        let channels = ALSAPCM.openError(-EINVAL, step: "channels", name: "ALSA playback device 'hw:0'", format: stereo48k)
        #expect(channels.description.contains("does not take 2 channels"), "\(channels)")
    }
}

@Suite struct ALSASourceTests {
    let logger = Logger(label: "test.alsa")

    @Test("a port on ALSA's null device gives silence of the size asked, without blocking")
    func nullCaptureIsSilence() throws {
        let source = ALSASource(device: "null", logger: logger)
        let port = try source.connect(tag, format: stereo48k)
        // A second stream at once, in its own format: the device is opened again for it.
        let mono = PCMStreamFormat(sample: .s32, rate: 16000, channels: 1)
        let other = try source.connect(SoundStreamTag(origin: "test", stream: 1), format: mono)
        var buffer = [UInt8](repeating: 0x55, count: 480 * 4)
        var otherBuffer = [UInt8](repeating: 0x55, count: 160 * 4)
        let clock = ContinuousClock()
        var total = Duration.zero
        for _ in 0..<100 {
            buffer = [UInt8](repeating: 0x55, count: buffer.count)
            let took = try clock.measure { try buffer.withUnsafeMutableBytes { try port.read(into: $0) } }
            total += took
            #expect(buffer.allSatisfy { $0 == 0 })
            otherBuffer = [UInt8](repeating: 0x55, count: otherBuffer.count)
            try otherBuffer.withUnsafeMutableBytes { try other.read(into: $0) }
            #expect(otherBuffer.allSatisfy { $0 == 0 })
        }
        // A read's budget on the clock thread is a few ms; one that waited for the device (a
        // period, 10 ms) would take a second for these 100. Summed, with room for preemption on a
        // busy host: this tells a read that never waits from one that waits a period.
        #expect(total < .milliseconds(700), "100 reads took \(total)")
        let counters = source.counters
        #expect(counters.capturedFrames == 100 * (480 + 160) && counters.silentFrames == 0 && counters.overruns == 0)
        // null always has its whole buffer (500 ms) ready: each read skips back to the cushion.
        #expect(counters.skippedFrames > 0)
        port.close()
        other.close()
        #expect(throws: SoundHostError.closed) { try buffer.withUnsafeMutableBytes { try port.read(into: $0) } }
    }

    @Test("a port reads what the device recorded bit-exact, then silence where it has nothing")
    func capturedFramesArrive() throws {
        let input = alsaTemporaryPath(".raw")
        defer { try? FileManager.default.removeItem(atPath: input) }
        let recorded = alsaPattern(frames: 2000)
        try Data(recorded).write(to: URL(fileURLWithPath: input))
        // ALSA's file plugin over null, fed from a raw file: what a microphone would have said.
        let configuration = "pcm.avpmic { type file slave.pcm null file \"/dev/null\" infile \"\(input)\" format raw }"
        let source = ALSASource(device: "avpmic", configuration: configuration, logger: logger)
        let port = try source.connect(tag, format: stereo48k)
        var got: [UInt8] = []
        for _ in 0..<5 {
            var period = [UInt8](repeating: 0x55, count: 480 * 4)
            try period.withUnsafeMutableBytes { try port.read(into: $0) }
            got += period
        }
        port.close()
        #expect(firstDifference(got.prefix(recorded.count), recorded) == nil, "not what the device recorded")
        #expect(got.dropFirst(recorded.count).allSatisfy { $0 == 0 } && got.count == 2400 * 4)
    }

    @Test("a capture device ALSA does not know fails to connect, naming it")
    func bogusCaptureDevice() {
        let source = ALSASource(device: "avp-no-such-mic", logger: logger)
        #expect {
            _ = try source.connect(tag, format: stereo48k)
        } throws: { error in
            "\(error)".contains("ALSA capture device 'avp-no-such-mic'") && "\(error)".contains("Unknown PCM")
        }
    }
}

@Suite struct ALSACaptureBacklogTests {
    @Test("silence until a read plus the cushion is ready, then whole reads that leave the cushion")
    func primesThenReads() {
        var backlog = ALSACaptureBacklog(cushion: 480, capacity: 24000)
        #expect(backlog.plan(available: 0, wanted: 480) == (0, 0))
        #expect(backlog.plan(available: 959, wanted: 480) == (0, 0))
        #expect(backlog.plan(available: 960, wanted: 480) == (0, 480))
        backlog.received(480, wanted: 480)
        #expect(!backlog.priming)
        // Steady: a period recorded per period read, give or take the device's granularity.
        #expect(backlog.plan(available: 960, wanted: 480) == (0, 480))
        #expect(backlog.plan(available: 500, wanted: 480) == (0, 480))
    }

    @Test("a short read gives what there is and primes again")
    func shortReadPrimes() {
        var backlog = ALSACaptureBacklog(cushion: 480, capacity: 24000)
        _ = backlog.plan(available: 960, wanted: 480)
        backlog.received(480, wanted: 480)
        #expect(backlog.plan(available: 300, wanted: 480) == (0, 300))
        backlog.received(300, wanted: 480)
        #expect(backlog.priming)
        #expect(backlog.plan(available: 480, wanted: 480) == (0, 0))
    }

    @Test("a pile-up beyond a read plus two cushions is skipped back to the cushion")
    func skipsPileUp() {
        var backlog = ALSACaptureBacklog(cushion: 480, capacity: 24000)
        _ = backlog.plan(available: 960, wanted: 480)
        // Up to 2 reads + 2 cushions is kept (the leftover of a late tick).
        #expect(backlog.plan(available: 1920, wanted: 480) == (0, 480))
        // Beyond: skip to leave exactly the cushion after this read.
        #expect(backlog.plan(available: 1921, wanted: 480) == (961, 480))
        #expect(backlog.plan(available: 24000, wanted: 480) == (23040, 480))
    }

    @Test("a read larger than the device buffer waits for a full buffer, not for the impossible")
    func readsLargerThanBuffer() {
        var backlog = ALSACaptureBacklog(cushion: 480, capacity: 4800)
        #expect(backlog.plan(available: 4799, wanted: 9600) == (0, 0))
        #expect(backlog.plan(available: 4800, wanted: 9600) == (0, 4800))
    }
}
