import Devices
import Platform
import Testing
import ServerCommands

/// `avp serve sound`'s options as the plan would write them and the command reads them back.
@Suite struct SoundServeOptionsRoundTrip {
    @Test("every option survives arguments → parse")
    func roundTrip() throws {
        let options = SoundServeOptions(endpoints: ServeEndpoints(socket: ["/run/snd ivi.sock"], connect: []), output: "/tmp/out put.wav",
                                        outputFormat: PCMStreamFormat(sample: .float, rate: 44100, channels: 1), tone: 440.5,
                                        formats: [.s32, .s16], rates: [.hz48000, .hz16000])
        let back = try SoundServeOptions.parse(options.arguments)
        #expect(back.arguments == options.arguments)
        #expect(back.endpoints.socket == ["/run/snd ivi.sock"] && back.output == "/tmp/out put.wav" && back.tone == 440.5)
        #expect(back.outputStreamFormat == PCMStreamFormat(sample: .float, rate: 44100, channels: 1))
        #expect(back.formats == [.s16, .s32] && back.rates == [.hz16000, .hz48000], "kept in the specification's order")
        #expect(options.commandLine.prefix(2) == ["serve", "sound"])
    }

    @Test("the defaults: no file, silence, everything offered, the WAV file S16 stereo 48 kHz")
    func defaults() throws {
        let back = try SoundServeOptions.parse(["--socket", "/s"])
        #expect(back.output == nil && back.tone == nil)
        #expect(back.formats == PCMSampleFormat.allCases && back.rates == PCMRate.allCases)
        #expect(back.outputStreamFormat == PCMStreamFormat(sample: .s16, rate: 48000, channels: 2))
    }

    @Test("bad values are refused with the reason", arguments: [
        ["--socket", "/a", "--socket", "/b"], [], ["--socket", "/s", "--tone", "5000"], ["--socket", "/s", "--tone", "0x10"],
        ["--socket", "/s", "--output-rate", "96000"], ["--socket", "/s", "--output-channels", "3"], ["--socket", "/s", "--formats", "u8"],
        ["--socket", "/s", "--rates", "48000,"], ["--socket", "/s", "--rates", "8000", "--tone", "4000"],
    ])
    func refuses(arguments: [String]) {
        #expect(throws: (any Error).self) { try SoundServeOptions.parse(arguments) }
    }
}
