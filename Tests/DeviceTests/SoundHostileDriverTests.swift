import AVPTestSupport
import Devices
import Foundation
import Logging
import Testing

private let ok = SoundStatus.ok.rawValue, badMessage = SoundStatus.badMessage.rawValue
private let notSupported = SoundStatus.notSupported.rawValue, ioError = SoundStatus.ioError.rawValue

/// A front end acting as a hostile driver: every guest-given stream ID, size, format, rate and
/// state is checked; each mistake gets its status (VIRTIO 1.2 §5.14.6) and the device goes on.
@Suite(.serialized) struct SoundHostileDriver {
    @Test("control requests: unknown streams, absurd sizes, wrong states, short requests and replies")
    func controlRequests() throws {
        let f = try SoundFixture()
        for code in [SoundRequestCode.pcmPrepare, .pcmStart, .pcmStop, .pcmRelease] {
            #expect(try f.command(code, stream: 2) == badMessage, "\(code) of stream 2 (the card has 2)")
            #expect(try f.command(code, stream: 0xffff_ffff) == badMessage)
        }
        #expect(try f.setParameters(stream: 9, soundParameters()) == badMessage)
        var absurd = soundParameters()
        absurd.bufferBytes = 0xffff_f000
        absurd.periodBytes = 0x1000
        #expect(try f.setParameters(stream: 0, absurd) == notSupported, "a 4 GiB buffer")
        absurd.bufferBytes = 0x1001
        #expect(try f.setParameters(stream: 0, absurd) == badMessage, "a period that does not divide the buffer")
        absurd = soundParameters(format: .s16)
        absurd.format = 200
        #expect(try f.setParameters(stream: 0, absurd) == badMessage)
        #expect(try f.command(.pcmStart, stream: 0) == badMessage, "START before SET_PARAMS and PREPARE")
        #expect(try f.command(.pcmPrepare, stream: 0) == badMessage, "PREPARE without parameters")
        #expect(try f.setParameters(stream: 0, soundParameters()) == ok)
        #expect(try f.command(.pcmStop, stream: 0) == badMessage, "STOP of a stream that does not run")
        #expect(try f.command(.pcmRelease, stream: 0) == badMessage, "RELEASE of a stream never prepared")
        #expect(try f.control(soundWords(0x0101, 0)).status == badMessage, "SET_PARAMS without its parameters")
        #expect(try f.control([0x04, 0x01]).status == badMessage, "no header")
        #expect(try f.control(soundWords(0x0100, 0, 3, 32), replySize: 4 + 96).status == badMessage, "PCM_INFO beyond the streams")
        #expect(try f.control(soundWords(0x0100, 0, 2, 0x10000), replySize: 4 + 64).status == badMessage, "absurd item size")
        #expect(try f.control(soundWords(0x0100, 0, 2, 32), replySize: 4 + 63).status == badMessage, "a reply that does not fit")
        #expect(try f.control(soundWords(2, 0, 1, 1)).status == notSupported, "JACK_REMAP: no jack can be remapped")
        #expect(try f.control(soundWords(2, 5, 1, 1)).status == badMessage, "JACK_REMAP of jack 5")
        #expect(try f.control(soundWords(0x0300, 0, 1, 128)).status == notSupported, "CTL_INFO without VIRTIO_SND_F_CTLS")
        #expect(try f.control(soundWords(0x7777, 0)).status == notSupported)
        #expect(try f.control(soundWords(0x0104, 0) + [UInt8](repeating: 0, count: 5000)).status == badMessage, "oversized")
        // A request with no room for its status comes back with nothing written.
        let request = try f.driver.allocate(8)
        try request.write(soundWords(0x0104, 0))
        try f.controlq.ring.add(readable: [request])
        f.controlq.kick()
        #expect(try f.controlq.waitForUsed().first?.length == 0)
        // Still serving.
        #expect(try f.command(.pcmPrepare, stream: 0) == ok)
        #expect(f.device.currentStatistics.refusedRequests >= 20)
    }

    @Test("I/O messages: unknown streams, the wrong direction, unprepared streams, absurd and partial sizes get IO_ERR")
    func transfers() throws {
        let f = try SoundFixture()
        let frames = soundSine(frames: 480)
        try f.play(stream: 5, frames)
        try f.play(stream: 1, frames)
        try f.play(stream: 0, frames)
        var back = try f.returned(f.txq, count: 3)
        #expect(back.map(\.status) == [ioError, ioError, ioError], "unknown stream, input stream, idle stream")

        let p = soundParameters(periodFrames: 480, periods: 2)
        try f.open(stream: 0, p)
        try f.play(frames + frames + frames)
        try f.play(frames + [0])
        back = try f.returned(f.txq, count: 2)
        #expect(back.map(\.status) == [ioError, ioError], "over the buffer; not whole frames")
        try f.play(frames)
        try f.play(frames)
        try f.play(frames)
        back = try f.returned(f.txq, count: 1)
        #expect(back.map(\.status) == [ioError], "a third period beyond the buffer of two")
        try f.play(frames, statusSize: 0)
        #expect(try f.txq.waitForUsed().first?.length == 0, "no room for a status: nothing written")

        // Capture messages: device-readable frames, and a stream never prepared.
        let header = try f.driver.allocate(8)
        try header.write(soundWords(1, 0))
        try f.rxq.ring.add(readable: [header], writable: [try f.driver.allocate(1928)])
        f.rxq.kick()
        #expect(try f.rxq.waitForUsed().count == 1)
        try f.record(stream: 1, bytes: 1920)
        try f.record(stream: 0, bytes: 1920)
        #expect(try f.returned(f.rxq, count: 2).map(\.status) == [ioError, ioError])
        #expect(f.device.currentStatistics.refusedTransfers == 10)
    }

    @Test("a stopped stream holds its messages until RELEASE answers them IO_ERR; a released stream refuses new ones")
    func stoppedStream() throws {
        let f = try SoundFixture()
        let frames = soundSine(frames: 480)
        try f.open(stream: 0, soundParameters(periodFrames: 480, periods: 4), start: true)
        #expect(try f.command(.pcmStop, stream: 0) == ok)
        try f.play(frames)
        try f.play(frames)
        #expect(try f.returned(f.txq, count: 1, timeout: 100).isEmpty)
        #expect(try f.command(.pcmRelease, stream: 0) == ok)
        #expect(try f.returned(f.txq, count: 2, timeout: 100).map(\.status) == [ioError, ioError], "returned before RELEASE was answered")
        try f.play(frames)
        #expect(try f.returned(f.txq, count: 1).map(\.status) == [ioError])
        #expect(f.sink.bytes.isEmpty)
        // And the stream works again after PREPARE.
        #expect(try f.command(.pcmPrepare, stream: 0) == ok)
        try f.play(frames)
        #expect(try f.command(.pcmStart, stream: 0) == ok)
        #expect(try f.returned(f.txq, count: 1).map(\.status) == [ok])
    }

    @Test("one VM's hostile driver gets its errors while another VM plays on through the same mixer, bit-exact and on time")
    func otherVMPlaysOn() throws {
        let output = CapturingOutput(format: PCMStreamFormat(sample: .s16, rate: 48000, channels: 2))
        let mixer = try SoundMixer(output: output, policy: AudioPolicy(), logger: Logger(label: "test.mixer"))
        let good = try SoundFixture(deviceSink: mixer), hostile = try SoundFixture(deviceSink: mixer)
        let parameters = soundParameters(periodFrames: 480, periods: 4)
        try good.open(stream: 0, parameters)
        try hostile.open(stream: 0, parameters, start: true)
        #expect(try hostile.command(.pcmStop, stream: 0) == ok)
        let period = Int(parameters.periodBytes), total = 40
        let signal = soundSine(frames: 480 * total, frequency: 997)
        for k in 0..<4 { try good.play(Array(signal[period * k..<period * (k + 1)])) }
        var sent = 4, returned: [SoundFixture.Returned] = [], refused = 0
        #expect(try good.command(.pcmStart, stream: 0) == ok)
        while returned.count < total {
            let got = try good.returned(good.txq, count: 1)
            try #require(!got.isEmpty, "the good VM stalled after \(returned.count) periods")
            returned += got
            for _ in got where sent < total {
                try good.play(Array(signal[period * sent..<period * (sent + 1)]))
                sent += 1
            }
            // Meanwhile: an unknown stream, a buffer's worth and more, a stopped stream, absurd requests.
            try hostile.play(stream: UInt32.max, Array(signal[0..<period]))
            try hostile.play(stream: 0, Array(signal[0..<period * 5]))
            #expect(try hostile.command(.pcmStart, stream: 7) == badMessage)
            var absurd = parameters
            absurd.bufferBytes = 0xffff_ffff
            #expect(try hostile.setParameters(stream: 0, absurd) != ok)
            refused += try hostile.returned(hostile.txq, count: 2, timeout: 1000).filter { $0.status == ioError }.count
        }
        #expect(refused == 2 * total, "every hostile message refused at once")
        #expect(returned.allSatisfy { $0.status == ok }, "the good VM's periods all played")
        #expect(try good.command(.pcmStop, stream: 0) == ok && good.command(.pcmRelease, stream: 0) == ok)
        // The good VM's frames, whole and in order, in the mix: one stream at unity is bit-exact.
        mixer.stop()
        let out = output.written
        let start = try #require(out.firstIndex { $0 != 0 }) - (try #require(signal.firstIndex { $0 != 0 }))
        try #require(start >= 0 && start % 4 == 0 && out.count >= start + signal.count)
        let bitExact = Array(out[start..<start + signal.count]) == signal
        #expect(bitExact)
        #expect(mixer.status.statistics.underruns == 0)
    }
}
