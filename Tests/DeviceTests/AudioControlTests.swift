import AVPTestSupport
@testable import Devices
import Foundation
import Logging
import Testing

/// The host's run-time control of the mixer (AVPS §2.9: volume belongs to the hypervisor side):
/// `avp audio`'s requests over the sound server's control socket, validated, refused with the
/// reason, the socket serving on; and the picture `avp audio --plot` draws from the levels.
@Suite struct AudioControlTests {
    static func server(_ mixer: SoundMixer) throws -> (AudioControlServer, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-audio-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
        return (try AudioControlServer(path: path, mixer: mixer, logger: Logger(label: "test.audio")), path)
    }

    @Test("show, volume, mute and levels; unknown VMs, volumes above unity, malformed and overlong lines are refused")
    func requests() throws {
        let (mixer, _) = try SoundMixing().mixer()
        let (control, path) = try Self.server(mixer)
        defer { control.stop() }
        let answers = try controlSocketExchange(path, [
            AudioControlRequest.show.line, AudioControlRequest.volume(vm: "ivi", decibels: -9.5).line,
            AudioControlRequest.mute(vm: "cluster", muted: true).line, AudioControlRequest.volume(vm: "rear", decibels: -3).line,
            AudioControlRequest.volume(vm: "ivi", decibels: 3).line, Array("{\"volume\":{}}".utf8), Array("not json".utf8),
            [UInt8](repeating: 0x7B, count: AudioControlRequest.maxLine + 1), AudioControlRequest.levels.line,
        ]).map { try AudioControlResponse(line: $0) }
        try #require(answers.count == 9, "\(answers)")
        guard case let .status(first) = answers[0], case let .status(changed) = answers[2] else { Issue.record("\(answers)"); return }
        #expect(first.vms.map(\.name) == ["ivi", "cluster"] && first.roles.map(\.name) == ["media", "navigation", "phone", "chime"])
        #expect(first.rules == ["navigation ducks media by 12 dB (attack 100 ms, release 300 ms)"])
        #expect(changed.vms.map(\.volume) == [-9.5, 0] && changed.vms.map(\.muted) == [false, true])
        for (i, answer) in answers[3...7].enumerated() {
            guard case let .refused(reason) = answer else { Issue.record("request \(i + 3) was not refused: \(answer)"); continue }
            #expect(!reason.isEmpty)
        }
        if case let .refused(reason) = answers[3] { #expect(reason == "no VM 'rear' has a sound card here; VMs: ivi, cluster") }
        guard case let .levels(levels) = answers[8] else { Issue.record("\(answers[8])"); return }
        #expect(levels.windowMilliseconds == 100 && levels.roles.map(\.name) == ["media", "navigation", "phone", "chime"])
        #expect(mixer.status.vms.map(\.volume) == [-9.5, 0], "refused requests changed nothing")
    }

    @Test("the meter shows each role after its gains; the plot draws them in their colours over the mix")
    func meterAndPlot() throws {
        let m = SoundMixing()
        let (mixer, output) = try m.mixer()
        let media = try mixer.connect(SoundStreamTag(origin: "ivi", stream: 0), format: SoundMixing.mono)
        let navigation = try mixer.connect(SoundStreamTag(origin: "cluster", stream: 0), format: SoundMixing.mono)
        try m.run(mixer, output, periods: 30, [(media, 0.5)])
        try m.run(mixer, output, periods: 50, [(media, 0.5), (navigation, 0.5)])
        let levels = mixer.levels
        let mediaLevels = try #require(levels.roles.first { $0.name == "media" }?.decibels)
        let navigationLevels = try #require(levels.roles.first { $0.name == "navigation" }?.decibels)
        // 0.5 constant: −6.02 dBFS; ducked by 12 dB: −18.06; navigation undisturbed at −6.02.
        #expect(mediaLevels.count == 8 && abs(mediaLevels[1] + 6.02) < 0.05 && abs(mediaLevels.last! + 18.06) < 0.05, "\(mediaLevels)")
        #expect(abs(navigationLevels.last! + 6.02) < 0.05, "\(navigationLevels)")
        #expect(levels.roles.first { $0.name == "chime" }?.decibels.allSatisfy { $0 == -120 } == true)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-plot-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(SoundLevelPlot.png(levels)).write(to: URL(fileURLWithPath: path))
        // The last slice's columns: media's amber line at −18 dB, above the mix's fill.
        let x = SoundLevelPlot.width - 2
        let mediaRow = SoundLevelPlot.row(mediaLevels.last!), mixRow = SoundLevelPlot.row(levels.mix.last!)
        let pixels = try PNGPixels.pixels(of: path, at: [(x, mediaRow), (x, SoundLevelPlot.height - 1), (x, max(0, mixRow - 3))])
        #expect(pixels[0] == [240, 192, 64] && pixels[1] == [70, 100, 128] && pixels[2] == [16, 20, 24], "\(pixels)")
    }
}
