import Foundation
import Platform
import SystemCalls
import Testing

/// `avp serve sound` against Linux's virtio_snd (Debian's 6.12 kernel) and ALSA's `aplay` and
/// `arecord` (alsa-utils) under QEMU 10.0's stock `vhost-user-snd` (AVPS §2.9: the VIRTIO sound
/// device). The guest plays a 1 kHz S16_LE stereo WAV at unity gain on `hw:0,0` (no plugin, so no
/// conversion): the server's WAV file must hold the same samples, and playback must take the
/// file's length (the device completes periods in real time). Then it records from the server's
/// 1 kHz test tone, and the host measures the recording's frequency.
@Suite(.serialized) struct SoundInRealGuest {
    /// Seconds of the played file: long enough that aplay's start-up is small beside 5 % of it.
    static let seconds = 6
    static let rate = 48000

    /// `hw` devices for libasound without alsa-lib's data files (the image has the programs and
    /// libraries only): ALSA_CONFIG_PATH points at this.
    static let alsaConfiguration = """
        pcm.hw {
            @args [ CARD DEV SUBDEV ]
            @args.CARD { type string default "0" }
            @args.DEV { type integer default 0 }
            @args.SUBDEV { type integer default -1 }
            type hw
            card $CARD
            device $DEV
            subdevice $SUBDEV
        }
        ctl.hw {
            @args [ CARD ]
            @args.CARD { type string default "0" }
            type hw
            card $CARD
        }

        """

    /// Waits for the card and shows what the kernel made of it; records 2 s and prints 0.5 s of it
    /// (after the first 0.25 s) in base64; then plays the file between two markers the host
    /// times (the guest's own clock drifts under TCG), and by /proc/uptime for comparison.
    /// Recording first also pages in libasound (under TCG a first run costs a few hundred ms
    /// more), so the timing is the playback's, not the program's start-up.
    static let script = """
        export ALSA_CONFIG_PATH=/avp/alsa.conf
        i=0; until grep -q VirtIO /proc/asound/cards 2>/dev/null || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
        grep -q VirtIO /proc/asound/cards || { echo "FAIL: no VirtIO sound card (is virtio_snd in the guest image?)"; cat /proc/asound/cards; exit 10; }
        echo "card=$(head -n 1 /proc/asound/cards)"
        echo "pcm=$(cat /proc/asound/pcm)"
        echo "driver=$(basename $(readlink /sys/class/sound/card0/device/driver))"
        command -v aplay >/dev/null || { echo "FAIL: no aplay (is alsa-utils in the guest image?)"; exit 11; }
        arecord -q -D hw:0,0 -f S16_LE -r \(rate) -c 2 -d 2 /tmp/rec.wav || { echo "FAIL: arecord status $?"; exit 13; }
        echo "recorded-bytes=$(wc -c < /tmp/rec.wav)"
        echo RECORDING-BEGIN
        dd if=/tmp/rec.wav bs=4800 skip=10 count=20 2>/dev/null | base64
        echo RECORDING-END
        read before _ </proc/uptime
        echo APLAY-BEGIN
        aplay -q -D hw:0,0 /avp/tone.wav || { echo "FAIL: aplay status $?"; exit 12; }
        echo APLAY-END
        read after _ </proc/uptime
        echo "aplay-started=$before"
        echo "aplay-ended=$after"
        """

    @Test("AVPS-v2.0-PENDING-SND (AVPS §2.9, VIRTIO 1.2 §5.14): aplay plays bit-exact in real time (±5 %), arecord records the test tone",
          .runningTimeLimit(minutes: 5), arguments: [QemuCommandLine.Machine.q35, .microvm])
    func playAndRecord(machine: QemuCommandLine.Machine) throws {
        try GuestHarness.checkPrerequisites()
        let image = try Self.image()
        let dir = try GuestHarness.workDirectory("sound-\(machine.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = dir + "/snd.sock", output = dir + "/played.wav"
        let server = try ServerProcess(arguments: ["serve", "sound", "--socket", socket, "--output", output, "--tone", "1000"],
                                       logPath: dir + "/server.log")
        defer { server.stop() }
        try server.waitForSocket(socket)

        let played = Self.toneFile()
        var command = QemuCommandLine(kernel: image.kernel(for: machine), initrd: dir + "/initrd")
        command.machine = machine
        command.qemu = GuestHarness.qemu
        command.accelerator = AcceleratorProbe.choose(qemu: GuestHarness.qemu, image: image)
        command.tscKHz = HostCPU.tscKHz()
        command.serial = .file(dir + "/console.log")
        command.vhostUserDevices = [.init(model: QemuDeviceModel(pci: "vhost-user-snd-pci", mmio: "vhost-user-snd"),
                                          socketPath: socket, id: "snd0")]
        try image.initrd(withScript: Self.script, extraFiles: ["avp/alsa.conf": Array(Self.alsaConfiguration.utf8), "avp/tone.wav": played],
                         at: command.initrd)
        let qemu = try QemuProcess(command: command, outputPath: dir + "/qemu.log")
        defer { qemu.kill() }
        let console = ConsoleLog(path: dir + "/console.log")
        let (playBegan, playEnded) = Self.markerTimes(console, qemu)
        let exited = qemu.wait(timeoutSeconds: GuestHarness.guestTimeout) != nil
        #expect(exited, "guest timed out; console:\n\(console.text.suffix(3000))")
        let context = "console:\n\(console.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))"
        try #require(console.testExitStatus == 0, "\(context)")

        #expect(console.value("card")?.contains("VirtIO SoundCard") == true, "/proc/asound/cards: \(console.value("card") ?? "-")")
        #expect(console.value("pcm")?.contains("playback 1 : capture 1") == true)
        #expect(console.value("driver") == "virtio_snd")

        // Pacing: the wall time of aplay (on the host's clock, between the guest's markers) against the file's length.
        let started = try #require(console.value("aplay-started").flatMap(Double.init))
        let ended = try #require(console.value("aplay-ended").flatMap(Double.init))
        let wall = Double(try #require(playEnded) - (try #require(playBegan))) / 1e9
        let error = (wall - Double(Self.seconds)) / Double(Self.seconds)
        print("sound: \(machine): aplay of \(Self.seconds) s took \(String(format: "%.3f", wall)) s on the host's clock "
            + "(\(String(format: "%+.1f", error * 100)) %), \(String(format: "%.2f", ended - started)) s on the guest's")
        #expect(abs(error) < 0.05, "aplay took \(wall) s for \(Self.seconds) s")

        // Bit-exact: the mix (one stream at unity, no conversion) holds the file's samples after the silence
        // the mixer played before aplay started, then silence again.
        server.stop()
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        try #require(file.count >= 44)
        #expect(file.prefix(4).elementsEqual(played.prefix(4)) && file[8..<36].elementsEqual(played[8..<36]),
                "RIFF/WAVE, fmt: PCM, 2 channels, 48000 Hz, 16 bits")
        let samples = Array(file.dropFirst(44)), source = Array(played.dropFirst(44))
        #expect(Self.word(file, 40) == samples.count && Self.word(file, 4) == samples.count + 36, "the header counts every sample")
        // The file's first frame is zero (a sine from 0): align on the first sample that is not.
        let start = try #require(samples.firstIndex { $0 != 0 }) - (try #require(source.firstIndex { $0 != 0 }))
        try #require(start >= 0 && start % 4 == 0 && samples.count >= start + source.count, "the file's samples are not all in the mix")
        let bitExact = samples[start..<start + source.count].elementsEqual(source)
        #expect(bitExact, "the samples differ from the file's")
        #expect(samples[start + source.count..<samples.count].allSatisfy { $0 == 0 }, "silence after the file")
        let statistics = server.statistics
        #expect(statistics["underruns"] == 0 && statistics["refused-requests"] == 0 && statistics["refused-transfers"] == 0,
                "\(server.log.suffix(1000))")

        // The recording: 2 s of stereo S16 at 48 kHz, the tone's frequency measured here.
        #expect(console.value("recorded-bytes") == String(44 + 2 * Self.rate * 4))
        let text = console.text.components(separatedBy: .newlines)
        let begin = try #require(text.firstIndex { $0.hasPrefix("RECORDING-BEGIN") })
        let end = try #require(text.firstIndex { $0.hasPrefix("RECORDING-END") })
        let recording = try #require(Data(base64Encoded: text[(begin + 1)..<end].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined()))
        #expect(recording.count == 20 * 4800)
        let left = Self.channel(Array(recording), 0), right = Self.channel(Array(recording), 1)
        let frequency = Self.frequency(left)
        print("sound: \(machine): arecord of the 1000 Hz test tone measured \(String(format: "%.2f", frequency)) Hz")
        #expect(abs(frequency - 1000) < 1, "recorded \(frequency) Hz")
        #expect(left == right && (16000...16400).contains(Int(left.max() ?? 0)), "the tone on both channels at half of full scale")
    }

    /// When the console first showed APLAY-BEGIN and APLAY-END (CLOCK_MONOTONIC, polled every 2 ms).
    static func markerTimes(_ console: ConsoleLog, _ qemu: QemuProcess) -> (begin: UInt64?, end: UInt64?) {
        var begin: UInt64?, end: UInt64?
        let deadline = MonotonicClock.seconds() + GuestHarness.guestTimeout
        while end == nil, qemu.isRunning, MonotonicClock.seconds() < deadline {
            let now = MonotonicClock.nanoseconds()
            let text = console.text
            if begin == nil, text.contains("APLAY-BEGIN") { begin = now }
            if begin != nil, text.contains("APLAY-END") { end = now }
            usleep(2000)
        }
        return (begin, end)
    }

    /// The backports image: virtio_snd, aplay and arecord (scripts/guest-image).
    static func image() throws -> GuestImage {
        let image = GuestImage.backports
        try image.ensureBuilt()
        return image
    }

    /// The played file: `seconds` of a 1 kHz sine at half of full scale, S16_LE stereo at 48 kHz,
    /// the right channel inverted.
    static func toneFile() -> [UInt8] { wavFile(frequency: 1000, seconds: Double(seconds), amplitude: 0.5) }

    /// A WAV file of a sine, S16_LE stereo at 48 kHz, the right channel inverted.
    static func wavFile(frequency: Double, seconds: Double, amplitude: Double) -> [UInt8] {
        let frames = Int(seconds * Double(rate))
        var data: [UInt8] = []
        data.reserveCapacity(frames * 4)
        for i in 0..<frames {
            let v = Int16((amplitude * 32767 * sin(2 * Double.pi * frequency * Double(i) / Double(rate))).rounded())
            for s in [v, 0 &- v] { withUnsafeBytes(of: s.littleEndian) { data += $0 } }
        }
        var header: [UInt8] = Array("RIFF".utf8) + le(UInt32(36 + data.count)) + Array("WAVEfmt ".utf8)
        header += le(UInt32(16)) + le(UInt16(1)) + le(UInt16(2)) + le(UInt32(rate)) + le(UInt32(rate * 4)) + le(UInt16(4)) + le(UInt16(16))
        return header + Array("data".utf8) + le(UInt32(data.count)) + data
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    static func word(_ bytes: [UInt8], _ at: Int) -> Int {
        (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) }
    }

    static func channel(_ bytes: [UInt8], _ channel: Int) -> [Int16] {
        stride(from: channel * 2, to: bytes.count - 1, by: 4).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
    }

    /// Rising zero crossings, interpolated between samples: cycles per second.
    static func frequency(_ samples: [Int16]) -> Double {
        var crossings: [Double] = []
        for i in 1..<samples.count where samples[i - 1] < 0 && samples[i] >= 0 {
            let a = Double(samples[i - 1]), b = Double(samples[i])
            crossings.append(Double(i - 1) - a / (b - a))
        }
        guard let first = crossings.first, let last = crossings.last, crossings.count > 1 else { return 0 }
        return Double(crossings.count - 1) * Double(rate) / (last - first)
    }
}
