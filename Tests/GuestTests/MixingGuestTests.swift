import Devices
import Foundation
import Platform
import SystemCalls
import Testing

/// The host's mixer with two real guests (AVPS §2.9: "when navigation starts playing, you can
/// lower the volume of media"): one `avp serve sound` for both VMs, as a platform runs it.
/// ivi plays media (440 Hz) on hw:0,0; the cluster, started once the media plays, plays a
/// navigation prompt (1500 Hz) on hw:0,0 and during it a chime (2500 Hz) on hw:0,1. The
/// policy: navigation ducks media by 12 dB; the cluster's volume is −20 dB, which its chime (a
/// safety role) ignores. Once the prompt is over, the host turns ivi down by 6 dB through the
/// control socket. Every level is measured in the server's mix, in 50 ms windows (a whole
/// number of cycles of each tone, so each tone's level is its own).
@Suite(.serialized) struct MixingInRealGuests {
    static let rate = SoundInRealGuest.rate
    static let mediaSeconds = 30.0, promptSeconds = 2.0, chimeSeconds = 0.6
    static let amplitude = 0.25

    static func script(_ body: String) -> String {
        """
        export ALSA_CONFIG_PATH=/avp/alsa.conf
        i=0; until grep -q VirtIO /proc/asound/cards 2>/dev/null || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
        grep -q VirtIO /proc/asound/cards || { echo "FAIL: no VirtIO sound card"; cat /proc/asound/cards; exit 10; }
        echo "pcm=$(cat /proc/asound/pcm | tr '\\n' ';')"
        \(body)
        """
    }

    static let ivi = script("""
        echo MEDIA-BEGIN
        aplay -q -D hw:0,0 /avp/media.wav || { echo "FAIL: aplay media status $?"; exit 12; }
        echo MEDIA-END
        """)

    static let cluster = script("""
        sleep 1
        echo PROMPT-BEGIN
        (sleep 0.5; aplay -q -D hw:0,1 /avp/chime.wav || echo "FAIL: aplay chime status $?") &
        aplay -q -D hw:0,0 /avp/prompt.wav || { echo "FAIL: aplay prompt status $?"; exit 12; }
        wait
        echo PROMPT-END
        """)

    @Test("AVPS §2.9: navigation ducks media by 12 dB (±1) and releases it; a chime plays at unity; the host turns a VM down",
          .runningTimeLimit(minutes: 5))
    func duckingAcrossVMs() throws {
        try GuestHarness.checkPrerequisites()
        let image = try SoundInRealGuest.image()
        let dir = try GuestHarness.workDirectory("mixing")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let output = dir + "/mix.wav", control = dir + "/control.sock"
        let server = try ServerProcess(arguments: [
            "serve", "sound", "--vm", "name=ivi,listen=\(dir)/ivi.sock,playback=media",
            "--vm", "name=cluster,listen=\(dir)/cluster.sock,playback=navigation+chime,volume=-20",
            "--duck", "when=navigation,duck=media,by=12,attack=50,release=300", "--output", output, "--control", control,
        ], logPath: dir + "/server.log")
        defer { server.stop() }
        try server.waitForSocket(dir + "/cluster.sock")

        let ivi = try Self.boot("ivi", script: Self.ivi, files: ["avp/media.wav": SoundInRealGuest.wavFile(frequency: 440, seconds: Self.mediaSeconds, amplitude: Self.amplitude)],
                                image: image, dir: dir)
        defer { ivi.qemu.kill() }
        try Self.waitFor("MEDIA-BEGIN", in: ivi)
        let cluster = try Self.boot("cluster", script: Self.cluster, files: [
            "avp/prompt.wav": SoundInRealGuest.wavFile(frequency: 1500, seconds: Self.promptSeconds, amplitude: Self.amplitude),
            "avp/chime.wav": SoundInRealGuest.wavFile(frequency: 2500, seconds: Self.chimeSeconds, amplitude: Self.amplitude),
        ], image: image, dir: dir)
        defer { cluster.qemu.kill() }
        try Self.waitFor("PROMPT-END", in: cluster)
        // The release (300 ms) is long over; then the host turns ivi down.
        usleep(1_500_000)
        let socket = try UnixSocket.connect(to: control)
        socket.descriptor.setSocketTimeouts(seconds: 10)
        try socket.send(AudioControlRequest.volume(vm: "ivi", decibels: -6).line + [0x0A])
        let answer = try socket.receive(upTo: 65536).bytes
        guard case let .status(status) = try AudioControlResponse(line: Array(answer.prefix { $0 != 0x0A })) else {
            Issue.record("the volume change was refused: \(String(decoding: answer, as: UTF8.self))"); return
        }
        #expect(status.vms.first { $0.name == "ivi" }?.volume == -6)
        let changed = MonotonicClock.seconds()
        try Self.waitFor("MEDIA-END", in: ivi)
        try #require(MonotonicClock.seconds() - changed > 2, "the media ended too soon after the volume change to measure it (a slow host?)")
        for vm in [ivi, cluster] {
            _ = vm.qemu.wait(timeoutSeconds: GuestHarness.guestTimeout)
            try #require(vm.console.testExitStatus == 0, "\(vm.name):\n\(vm.console.text.suffix(2000))\nserver:\n\(server.log.suffix(2000))")
        }
        #expect(ivi.console.value("pcm")?.contains("00-00") == true && cluster.console.value("pcm")?.contains("00-01") == true,
                "cluster's card has hw:0,0 and hw:0,1: \(cluster.console.value("pcm") ?? "-")")
        server.stop()

        let mix = SoundInRealGuest.channel(try [UInt8](Data(contentsOf: URL(fileURLWithPath: output))).dropFirst(44).map { $0 }, 0)
        let levels = ToneLevels(samples: mix, rate: Self.rate, frequencies: [440, 1500, 2500])
        let full = Self.amplitude * 32767
        let media = try #require(levels.span(of: 440, above: full / 50)), prompt = try #require(levels.span(of: 1500, above: full / 50))
        let chime = try #require(levels.span(of: 2500, above: full / 4))
        try #require(media.lowerBound + 8 < prompt.lowerBound && prompt.upperBound + 40 < media.upperBound,
                     "the prompt (windows \(prompt)) must lie well within the media (\(media))")
        let before = levels.median(440, media.lowerBound + 4..<prompt.lowerBound - 4)
        let during = levels.median(440, prompt.lowerBound + 6..<prompt.upperBound - 4)
        let after = levels.median(440, prompt.upperBound + 16..<prompt.upperBound + 26)
        let turnedDown = levels.median(440, media.upperBound - 24..<media.upperBound - 4)
        func db(_ x: Double, _ reference: Double) -> Double { 20 * log10(x / reference) }
        print("mixing: media \(String(format: "%.1f", db(before, full))) dBFS-tone; during the prompt \(String(format: "%+.2f", db(during, before))) dB; "
            + "after \(String(format: "%+.2f", db(after, before))) dB; turned down \(String(format: "%+.2f", db(turnedDown, before))) dB; "
            + "prompt \(String(format: "%+.2f", db(levels.median(1500, prompt.lowerBound + 2..<prompt.upperBound - 2), full))) dB; "
            + "chime \(String(format: "%+.2f", db(levels.median(2500, chime.lowerBound + 1..<chime.upperBound - 1), full))) dB")
        #expect(abs(db(before, full)) < 0.5, "media at unity: \(db(before, full)) dB")
        #expect(abs(db(during, before) + 12) < 1, "media during the prompt: \(db(during, before)) dB")
        #expect(abs(db(after, before)) < 1, "media after the release: \(db(after, before)) dB")
        #expect(abs(db(turnedDown, before) + 6) < 1, "media after avp audio ivi --volume -6: \(db(turnedDown, before)) dB")
        #expect(abs(db(levels.median(1500, prompt.lowerBound + 2..<prompt.upperBound - 2), full) + 20) < 1, "the prompt at the cluster's -20 dB")
        #expect(abs(db(levels.median(2500, chime.lowerBound + 1..<chime.upperBound - 1), full)) < 1, "the chime at unity despite -20 dB")
        #expect(prompt.contains(chime.lowerBound), "the chime played during the prompt: \(chime) in \(prompt)")
        let mixer = server.log.split(separator: "\n").last { $0.contains("mixer: ") }.map(String.init) ?? ""
        #expect(mixer.contains("underruns=0"), "\(mixer)")
    }

    struct Guest {
        let name: String
        let qemu: QemuProcess
        let console: ConsoleLog
    }

    static func boot(_ name: String, script: String, files: [String: [UInt8]], image: GuestImage, dir: String) throws -> Guest {
        var command = QemuCommandLine(kernel: image.kernel(for: .q35), initrd: "\(dir)/\(name).initrd")
        command.qemu = GuestHarness.qemu
        command.accelerator = AcceleratorProbe.choose(qemu: GuestHarness.qemu, image: image)
        command.tscKHz = HostCPU.tscKHz()
        command.serial = .file("\(dir)/\(name).console")
        command.vhostUserDevices = [.init(model: .sound, socketPath: "\(dir)/\(name).sock", id: "snd0")]
        var extra = files
        extra["avp/alsa.conf"] = Array(SoundInRealGuest.alsaConfiguration.utf8)
        try image.initrd(withScript: script, extraFiles: extra, at: command.initrd)
        return Guest(name: name, qemu: try QemuProcess(command: command, outputPath: "\(dir)/\(name).qemu.log"),
                     console: ConsoleLog(path: "\(dir)/\(name).console"))
    }

    static func waitFor(_ marker: String, in guest: Guest) throws {
        let deadline = MonotonicClock.seconds() + GuestHarness.guestTimeout
        while !guest.console.text.contains(marker) {
            try #require(guest.qemu.isRunning && MonotonicClock.seconds() < deadline,
                         "\(guest.name) never printed \(marker):\n\(guest.console.text.suffix(2000))")
            usleep(20_000)
        }
    }
}

/// Each tone's amplitude in consecutive 50 ms windows: at 48 kHz that is a whole number of
/// cycles of 440, 1500 and 2500 Hz, so the single DFT bins are orthogonal and one tone's
/// level does not leak into another's.
struct ToneLevels {
    static let windowSeconds = 0.05
    let levels: [Double: [Double]]

    init(samples: [Int16], rate: Int, frequencies: [Double]) {
        let n = Int(Double(rate) * Self.windowSeconds)
        var levels: [Double: [Double]] = [:]
        for f in frequencies {
            levels[f] = stride(from: 0, to: samples.count - n + 1, by: n).map { start in
                var re = 0.0, im = 0.0
                for i in 0..<n {
                    let phase = 2 * Double.pi * f * Double(i) / Double(rate)
                    re += Double(samples[start + i]) * cos(phase)
                    im -= Double(samples[start + i]) * sin(phase)
                }
                return 2 * (re * re + im * im).squareRoot() / Double(n)
            }
        }
        self.levels = levels
    }

    /// The windows from the first to the last where `frequency` is above `threshold`.
    func span(of frequency: Double, above threshold: Double) -> Range<Int>? {
        guard let l = levels[frequency], let first = l.firstIndex(where: { $0 > threshold }),
              let last = l.lastIndex(where: { $0 > threshold }) else { return nil }
        return first..<last + 1
    }

    func median(_ frequency: Double, _ windows: Range<Int>) -> Double {
        guard let l = levels[frequency], !windows.isEmpty, windows.lowerBound >= 0, windows.upperBound <= l.count else { return .nan }
        let sorted = l[windows].sorted()
        return sorted[sorted.count / 2]
    }
}
