import Devices
import Testing

/// Little-endian bytes of 32-bit words, the way a driver lays out a request.
func soundWords(_ values: UInt32...) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian, Array.init) }
}

/// A SET_PARAMS request for stereo S16 at 48 kHz with a 4-period buffer of `periodFrames` frames.
func soundParameters(periodFrames: Int = 480, periods: Int = 4, channels: UInt8 = 2, format: PCMSampleFormat = .s16,
                     rate: PCMRate = .hz48000, features: PCMFeatures = []) -> PCMParameterRequest {
    let period = UInt32(periodFrames * Int(channels) * format.bytesPerSample)
    return PCMParameterRequest(bufferBytes: period * UInt32(periods), periodBytes: period, features: features.rawValue,
                               channels: channels, format: format.rawValue, rate: rate.rawValue)
}

@Suite struct SoundControlRequestParsing {
    @Test("VIRTIO 1.2 §5.14.6: every request the device knows decodes to its case")
    func decodesRequests() throws {
        #expect(try SoundControlRequest.parse(soundWords(0x0100, 0, 2, 32)) == .pcmInfo(.init(startID: 0, count: 2, size: 32)))
        #expect(try SoundControlRequest.parse(soundWords(1, 1, 1, 24)) == .jackInfo(.init(startID: 1, count: 1, size: 24)))
        #expect(try SoundControlRequest.parse(soundWords(0x0200, 0, 4, 24)) == .channelMapInfo(.init(startID: 0, count: 4, size: 24)))
        #expect(try SoundControlRequest.parse(soundWords(2, 0, 7, 9)) == .jackRemap(jack: 0, association: 7, sequence: 9))
        let params = soundParameters()
        #expect(try SoundControlRequest.parse(soundWords(0x0101, 1) + params.bytes) == .setParameters(stream: 1, params))
        #expect(try SoundControlRequest.parse(soundWords(0x0102, 3)) == .prepare(stream: 3))
        #expect(try SoundControlRequest.parse(soundWords(0x0103, 3)) == .release(stream: 3))
        #expect(try SoundControlRequest.parse(soundWords(0x0104, 3)) == .start(stream: 3))
        #expect(try SoundControlRequest.parse(soundWords(0x0105, 3)) == .stop(stream: 3))
        #expect(try SoundControlRequest.parse(soundWords(0x0302)) == .controlElement(code: 0x0302))
        #expect(try SoundControlRequest.parse(soundWords(0x8000)) == .unknown(code: 0x8000))
        // Bytes after the structure (a payload the device does not use) are allowed.
        #expect(try SoundControlRequest.parse(soundWords(0x0104, 0, 0xdead)) == .start(stream: 0))
    }

    @Test("short, empty and oversized requests are refused with the reason")
    func refusesMalformed() {
        #expect(throws: SoundControlRequest.ParseError.noHeader(got: 3)) { try SoundControlRequest.parse([1, 0, 0]) }
        #expect(throws: SoundControlRequest.ParseError.tooShort(code: 0x0101, needed: 24, got: 20)) {
            try SoundControlRequest.parse(Array((soundWords(0x0101, 0) + soundParameters().bytes).prefix(20)))
        }
        #expect(throws: SoundControlRequest.ParseError.tooShort(code: 0x0100, needed: 16, got: 12)) {
            try SoundControlRequest.parse(soundWords(0x0100, 0, 1))
        }
        #expect(throws: SoundControlRequest.ParseError.tooShort(code: 0x0104, needed: 8, got: 4)) { try SoundControlRequest.parse(soundWords(0x0104)) }
        #expect(throws: SoundControlRequest.ParseError.tooLong(1025)) {
            try SoundControlRequest.parse(soundWords(0x0104, 0) + [UInt8](repeating: 0, count: 1017))
        }
    }
}

@Suite struct SoundParameterValidation {
    let output = SoundStreamDescription(direction: .output)

    @Test("SET_PARAMS within the offer gives the stream's format, buffer and period")
    func accepts() throws {
        let p = try PCMParameters.validate(soundParameters(periodFrames: 3840), for: output)
        #expect(p.format == PCMStreamFormat(sample: .s16, rate: 48000, channels: 2))
        #expect(p.periodBytes == 15360 && p.bufferBytes == 61440 && p.periodFrames == 3840)
        #expect(p.periodNanoseconds == 80_000_000)
        let mono = try PCMParameters.validate(soundParameters(channels: 1, format: .float, rate: .hz8000, features: .xrunEvents), for: output)
        #expect(mono.format == PCMStreamFormat(sample: .float, rate: 8000, channels: 1) && mono.features == .xrunEvents)
    }

    @Test("undefined values, a period that does not divide the buffer, partial frames: BAD_MSG (§5.14.6.6.3)")
    func malformed() {
        func status(_ change: (inout PCMParameterRequest) -> Void) -> SoundStatus? {
            var r = soundParameters()
            change(&r)
            do { _ = try PCMParameters.validate(r, for: output); return nil } catch { return error }
        }
        #expect(status { $0.format = 25 } == .badMessage)
        #expect(status { $0.rate = 16 } == .badMessage)
        #expect(status { $0.padding = 1 } == .badMessage)
        #expect(status { $0.channels = 0 } == .badMessage)
        #expect(status { $0.features = 1 << 5 } == .badMessage)
        #expect(status { $0.features = 3 } == .badMessage, "SHMEM_HOST and SHMEM_GUEST together")
        #expect(status { $0.periodBytes = 0 } == .badMessage)
        #expect(status { $0.bufferBytes = 0 } == .badMessage)
        #expect(status { $0.bufferBytes = $0.periodBytes * 3 + 4 } == .badMessage)
        #expect(status { $0.periodBytes = 1922; $0.bufferBytes = 1922 * 4 } == .badMessage, "not whole frames of 4 bytes")
    }

    @Test("defined but not offered, or beyond the device's bounds: NOT_SUPP")
    func unsupported() {
        func status(_ change: (inout PCMParameterRequest) -> Void) -> SoundStatus? {
            var r = soundParameters()
            change(&r)
            do { _ = try PCMParameters.validate(r, for: output); return nil } catch { return error }
        }
        #expect(status { $0.format = 4 } == .notSupported, "U8")
        #expect(status { $0.rate = 10 } == .notSupported, "96 kHz")
        #expect(status { $0.channels = 3; $0.periodBytes = 2880; $0.bufferBytes = 11520 } == .notSupported)
        #expect(status { $0.features = PCMFeatures.messagePolling.rawValue } == .notSupported)
        #expect(status { $0.periodBytes = 1 << 19; $0.bufferBytes = 1 << 22 } == .notSupported, "a 4 MiB buffer")
        #expect(status { $0.periodBytes = 4 * 40; $0.bufferBytes = 4 * 160 } == .notSupported, "a period of 40 frames (0.8 ms)")
        #expect(status { $0.bufferBytes = 0xffff_ff00; $0.periodBytes = 0xffff_ff00 } == .notSupported)
    }
}

@Suite struct SoundStreamLifecycle {
    let p = PCMParameters(format: PCMStreamFormat(sample: .s16, rate: 48000, channels: 2), bufferBytes: 7680, periodBytes: 1920)

    @Test("§5.14.6.6.1: each state allows exactly the commands of the lifecycle")
    func transitions() throws {
        let states: [PCMStreamState] = [.idle, .configured(p), .prepared(p), .running(p), .paused(p)]
        let commands: [PCMCommand] = [.setParameters(p), .prepare, .start, .stop, .release]
        let allowed: [String: Set<String>] = [
            "idle": ["SET_PARAMS"],
            "configured": ["SET_PARAMS", "PREPARE"],
            "prepared": ["SET_PARAMS", "PREPARE", "START", "RELEASE"],
            "running": ["STOP"],
            "stopped": ["START", "RELEASE"],
        ]
        for state in states {
            for command in commands {
                let next = try? state.after(command)
                #expect((next != nil) == allowed[state.description]!.contains(command.description), "\(command) in \(state)")
            }
        }
        #expect(try PCMStreamState.paused(p).after(.release) == .configured(p), "RELEASE keeps the parameters")
        #expect(try PCMStreamState.configured(p).after(.prepare) == .prepared(p))
        #expect(PCMStreamState.paused(p).transferParameters == p && PCMStreamState.configured(p).transferParameters == nil)
    }
}

@Suite struct SoundTopologyAnswers {
    let topology = SoundTopology.standard()

    @Test("the configuration space counts 2 jacks, 2 streams and 4 channel maps; no controls field")
    func configuration() {
        #expect(topology.configBytes == soundWords(2, 2, 4))
        #expect(SoundTopology.configSize == 12)
    }
}
