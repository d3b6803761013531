import AVPTestSupport
import Devices
import Foundation
import SystemCalls
import Testing

private let ok = SoundStatus.ok.rawValue

@Suite(.serialized) struct SoundDeviceConfiguration {
    @Test("the back end gives the configuration (QEMU's vhost-user-snd reads it with GET_CONFIG): 2 jacks, 2 streams, 4 maps")
    func configurationSpace() throws {
        let f = try SoundFixture()
        #expect(try f.driver.frontend.getConfig(offset: 0, size: 12) == soundWords(2, 2, 4))
        #expect(try f.driver.frontend.getConfig(offset: 4, size: 4) == soundWords(2))
        #expect(f.driver.features & 1 == 0, "no VIRTIO_SND_F_CTLS")
    }

    @Test("PCM_INFO: stream 0 plays, stream 1 records; S16, S32 and FLOAT; 8 to 48 kHz; 1 to 2 channels; xrun events")
    func streamInformation() throws {
        let f = try SoundFixture()
        let (status, info) = try f.control(soundWords(0x0100, 0, 2, 32), replySize: 4 + 64)
        #expect(status == ok)
        for (i, direction) in [(0, 0), (1, 1)] {
            let item = Array(info[32 * i..<32 * i + 32])
            let words = soundWordsFrom(item)
            #expect(words[0] == 0, "function group 0: one ALSA PCM device")
            #expect(words[1] == 1 << 4, "VIRTIO_SND_PCM_F_EVT_XRUNS")
            #expect(UInt64(words[2]) | UInt64(words[3]) << 32 == 1 << 5 | 1 << 17 | 1 << 19)
            #expect(UInt64(words[4]) | UInt64(words[5]) << 32 == 0b1111_1110, "rates 8000 to 48000")
            #expect(Array(item[24..<32]) == [UInt8(direction), 1, 2, 0, 0, 0, 0, 0])
        }
        // A driver with a larger structure gets zeros after ours; one asking for the second only gets it.
        let (_, padded) = try f.control(soundWords(0x0100, 1, 1, 40), replySize: 4 + 40)
        #expect(Array(padded.prefix(32)) == Array(info[32..<64]) && padded.suffix(8).allSatisfy { $0 == 0 })
    }

    @Test("JACK_INFO and CHMAP_INFO: a line out and a microphone, mono and stereo maps per direction")
    func jacksAndMaps() throws {
        let f = try SoundFixture()
        let (s1, jacks) = try f.control(soundWords(1, 0, 2, 24), replySize: 4 + 48)
        #expect(s1 == ok)
        let out = soundWordsFrom(Array(jacks[0..<24])), mic = soundWordsFrom(Array(jacks[24..<48]))
        #expect(out[1] == 0 && out[2] >> 20 & 0xf == 0x0 && out[3] & 0x10 != 0 && jacks[16] == 1, "Line Out, output capable, connected")
        #expect(mic[2] >> 20 & 0xf == 0xa && mic[3] & 0x20 != 0 && jacks[40] == 1, "Mic In, input capable, connected")
        let (s2, maps) = try f.control(soundWords(0x0200, 0, 4, 24), replySize: 4 + 96)
        #expect(s2 == ok)
        let described = (0..<4).map { i in Array(maps[24 * i + 4..<24 * i + 4 + 2 + Int(maps[24 * i + 5])]) }
        #expect(described == [[0, 1, 2], [0, 2, 3, 4], [1, 1, 2], [1, 2, 3, 4]], "direction, channels, MONO | FL FR")
    }
}

@Suite(.serialized) struct SoundPlaybackAndCapture {
    /// 10 ms periods of 48 kHz stereo S16.
    let parameters = soundParameters(periodFrames: 480, periods: 4)

    @Test("playback is paced at the negotiated rate, every frame reaches the sink in order, statuses carry its latency")
    func paced() throws {
        let f = try SoundFixture()
        try f.open(stream: 0, parameters)
        let period = Int(parameters.periodBytes), total = 12
        let signal = soundSine(frames: 480 * total)
        for k in 0..<4 { try f.play(Array(signal[period * k..<period * (k + 1)])) }
        var sent = 4
        let start = MonotonicClock.nanoseconds()
        #expect(try f.command(.pcmStart, stream: 0) == ok)
        var back: [SoundFixture.Returned] = []
        while back.count < total {
            let got = try f.returned(f.txq, count: 1)
            try #require(!got.isEmpty, "playback stalled after \(back.count) periods")
            back += got
            // As ALSA does: each period played frees room for the next.
            for _ in got where sent < total {
                try f.play(Array(signal[period * sent..<period * (sent + 1)]))
                sent += 1
            }
        }
        #expect(back.allSatisfy { $0.status == ok && $0.latency == 64 })
        for (k, r) in back.enumerated() {
            #expect(r.at + 2_000_000 >= start + UInt64(k + 1) * 10_000_000, "period \(k) completed \(Double(Int64(r.at) - Int64(start)) / 1e6) ms after START")
        }
        let elapsed = Double(back.last!.at - start) / 1e9
        #expect(elapsed >= 0.118 && elapsed < 0.3, "\(elapsed) s for 120 ms")
        #expect(f.sink.bytes == signal, "bit-exact")
        #expect(try f.command(.pcmStop, stream: 0) == ok)
        #expect(try f.command(.pcmRelease, stream: 0) == ok)
        #expect(f.sink.closed == 1 && f.sink.formats == [PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)])
        #expect(f.device.currentStatistics.streams[0].xruns == 0)
    }

    @Test("capture fills one period per period with the tone; RELEASE returns what waits before its answer")
    func capture() throws {
        let f = try SoundFixture(source: TestToneSource(frequency: 1000))
        let p = soundParameters(periodFrames: 480, periods: 4)
        try f.open(stream: 1, p)
        for _ in 0..<4 { try f.record(bytes: Int(p.periodBytes)) }
        let start = MonotonicClock.nanoseconds()
        #expect(try f.command(.pcmStart, stream: 1) == ok)
        var frames: [UInt8] = []
        var count = 0
        while count < 10 {
            let got = try f.returned(f.rxq, count: 1)
            try #require(!got.isEmpty)
            for r in got {
                #expect(r.status == ok && r.frames.count == Int(p.periodBytes))
                frames += r.frames
                count += 1
                try f.record(bytes: Int(p.periodBytes))
            }
        }
        #expect(MonotonicClock.nanoseconds() - start >= 98_000_000, "10 periods of 10 ms")
        #expect(abs(soundFrequency(soundChannel(frames), rate: 48000) - 1000) < 1)
        #expect(try f.command(.pcmStop, stream: 1) == ok)
        #expect(try f.command(.pcmRelease, stream: 1) == ok)
        let flushed = try f.returned(f.rxq, count: 4, timeout: 500)
        #expect(flushed.count == 4 && flushed.allSatisfy { $0.status == SoundStatus.ioError.rawValue })
    }

    @Test("a late message is an underrun: counted, and an XRUN event when the driver enabled them")
    func underrun() throws {
        let f = try SoundFixture()
        try f.postEventBuffers(4)
        try f.open(stream: 0, soundParameters(periodFrames: 480, periods: 4, features: .xrunEvents))
        try f.play(soundSine(frames: 480))
        #expect(try f.command(.pcmStart, stream: 0) == ok)
        #expect(try f.returned(f.txq, count: 1).count == 1)
        MonotonicClock.sleep(milliseconds: 40)
        try f.play(soundSine(frames: 480))
        let events = try f.events(count: 1)
        #expect(events.count == 1 && events.first?.code == 0x1101 && events.first?.data == 0)
        #expect(try f.returned(f.txq, count: 1).first?.status == ok)
        #expect(try f.command(.pcmStop, stream: 0) == ok)
        let counters = f.device.currentStatistics.streams[0]
        #expect(counters.xruns == 1 && counters.starvedPeriods >= 1)
        #expect(f.sink.bytes.count == 2 * 1920 && f.sink.gaps >= 480, "the starved periods were gaps")
    }

    @Test("pause: messages sent while stopped wait for START and then play")
    func pauseAndResume() throws {
        let f = try SoundFixture()
        try f.open(stream: 0, parameters, start: false)
        try f.play(soundSine(frames: 480))
        #expect(try f.command(.pcmStart, stream: 0) == ok)
        #expect(try f.returned(f.txq, count: 1).first?.status == ok)
        #expect(try f.command(.pcmStop, stream: 0) == ok)
        try f.play(soundSine(frames: 480))
        #expect(try f.returned(f.txq, count: 1, timeout: 100).isEmpty, "held while stopped")
        #expect(try f.command(.pcmStart, stream: 0) == ok)
        #expect(try f.returned(f.txq, count: 1).first?.status == ok)
        #expect(f.sink.bytes.count == 2 * 1920)
    }

    @Test("frames the sink fails to take come back IO_ERR, counted as host errors; the stream goes on")
    func sinkFailure() throws {
        let f = try SoundFixture(deviceSink: FailingSink())
        try f.open(stream: 0, parameters)
        try f.play(soundSine(frames: 480))
        try f.play(soundSine(frames: 480))
        #expect(try f.command(.pcmStart, stream: 0) == ok)
        #expect(try f.returned(f.txq, count: 2).map(\.status) == [SoundStatus.ioError.rawValue, SoundStatus.ioError.rawValue])
        #expect(try f.command(.pcmStop, stream: 0) == ok)
        #expect(f.device.currentStatistics.streams[0].hostErrors >= 2)
    }
}
