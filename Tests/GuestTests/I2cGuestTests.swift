import Foundation
import Platform
import SystemCalls
import Testing

/// `avp serve i2c` against Linux's i2c-virtio in a real guest (AVP's own kernel: Debian's lacks
/// I2C_VIRTIO) with i2c-tools, under QEMU's vhost-user-i2c-pci. AVPS v2.0 names no I2C
/// requirement (issue 13 asks for the adapter; the nearest, {AVPS-v2.0-37}/{AVPS-v2.0-38}, are
/// about GPIO blocks, and {AVPS-v2.0-39} wants sensors through SCMI, which this sensor is not),
/// so these tests cite the issue, not an AVPS id.
@Suite(.serialized) struct I2cInRealGuest {
    static let image = GuestImage.cached(.own)

    /// Finds the virtio adapter's bus number (prints `bus=N`).
    static let findBus = """
        bus=""
        for d in /sys/bus/i2c/devices/i2c-*; do
          [ -e "$d/name" ] || continue
          name=$(cat $d/name)
          echo "adapter ${d##*/}: $name"
          case "$name" in *virtio*) bus=${d##*/i2c-} ;; esac
        done
        echo "bus=$bus"
        [ -n "$bus" ] || { echo "FAIL: no i2c_virtio adapter"; exit 10; }
        [ -e /dev/i2c-$bus ] || { echo "FAIL: no /dev/i2c-$bus"; exit 11; }

        """

    /// Boot one: the scan, an EEPROM write, the sensor, an address it was not given.
    static let first = findBus + """
        i2cdetect -y $bus
        found=$(i2cdetect -y $bus | tail -n +2 | cut -c5- | tr ' ' '\\n' | grep -E '^[0-9a-f]{2}$' | tr '\\n' ' ')
        echo "found=$found"
        i2cset -y $bus 0x50 0x10 0xab || { echo "FAIL: i2cset"; exit 12; }
        i2cset -y $bus 0x50 0x11 0xcd || { echo "FAIL: i2cset"; exit 12; }
        echo "eeprom10=$(i2cget -y $bus 0x50 0x10)"
        echo "temperature-word=$(i2cget -y $bus 0x48 0x00 w)"
        echo "temperature-bytes=$(i2ctransfer -y $bus w1@0x48 0x00 r2)"
        if i2cget -y $bus 0x51 0x00 >/dev/null 2>&1; then echo "absent=answered"; else echo "absent=refused"; fi
        """

    /// Later boots: what the EEPROM kept, what the sensor reads now.
    static let later = findBus + """
        echo "eeprom10=$(i2cget -y $bus 0x50 0x10)"
        echo "eeprom11=$(i2cget -y $bus 0x50 0x11)"
        echo "temperature-word=$(i2cget -y $bus 0x48 0x00 w)"
        """

    func startServer(_ dir: String, _ eeprom: String, generation: Int) throws -> ServerProcess {
        let socket = dir + "/i2c.sock", control = dir + "/control.sock"
        let server = try ServerProcess(arguments: ["serve", "i2c", "--socket", socket, "--target", "eeprom@0x50:\(eeprom)",
                                                   "--target", "temperature@0x48:21.5", "--control", control],
                                       logPath: dir + "/server-\(generation).log")
        try server.waitForSocket(socket)
        try server.waitForSocket(control)
        return server
    }

    func boot(_ script: String, _ dir: String, _ name: String) throws -> ConsoleLog {
        let run = dir + "/" + name
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        var guest = GuestBoot()
        guest.image = Self.image
        guest.devices = [.init(model: .i2c, socketPath: dir + "/i2c.sock", id: "i2c0")]
        let console = try guest.run(script: script, in: run)
        #expect(console.testExitStatus == 0, "\(name) console:\n\(console.text.suffix(3000))")
        return console
    }

    /// The host's control socket: one JSON line each way.
    func setTemperature(_ control: String, _ celsius: Double) throws -> String {
        let socket = try UnixSocket.connect(to: control)
        socket.descriptor.setSocketTimeouts(seconds: 5)
        try socket.send(Array("{\"setTemperature\":{\"address\":72,\"celsius\":\(celsius),\"vm\":\"guest\"}}\n".utf8))
        var answer: [UInt8] = []
        while !answer.contains(0x0A) {
            let piece = try socket.receive(upTo: 4096)
            if piece.bytes.isEmpty { break }
            answer += piece.bytes
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test("virtio-i2c (issue 13): i2cdetect shows exactly the allowed addresses; EEPROM bytes survive a VM and a server restart; i2cget reads the host's temperature")
    func adapterInRealGuest() throws {
        try Self.image.ensureBuilt()
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("i2c")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let eeprom = dir + "/board.eeprom"
        var server = try startServer(dir, eeprom, generation: 1)
        defer { server.stop() }

        let one = try boot(Self.first, dir, "boot-1")
        // What the guest saw, for the test log: its adapter, the scan and the values it read.
        print(one.text.components(separatedBy: .newlines).filter {
            $0.hasPrefix("adapter") || $0.hasPrefix("bus=") || $0.range(of: "^[0-7]0:|^ +0 +1", options: .regularExpression) != nil
                || $0.contains("=0x") || $0.hasPrefix("found=") || $0.hasPrefix("absent=") || $0.hasPrefix("temperature-bytes=")
        }.joined(separator: "\n"))
        #expect(one.value("found") == "48 50", "i2cdetect:\n\(one.text.suffix(2500))")
        #expect(one.value("eeprom10") == "0xab")
        // LM75 register 0 = 0x1580 (21.5 °C), most significant byte first; SMBus words are low byte first.
        #expect(one.value("temperature-word") == "0x8015")
        #expect(one.value("temperature-bytes") == "0x15 0x80")
        #expect(one.value("absent") == "refused")
        #expect(try Data(contentsOf: URL(fileURLWithPath: eeprom))[0x10...0x11] == Data([0xAB, 0xCD]), "written through to the file")

        // The host changes the temperature; a second VM boot on the same server reads it and the EEPROM.
        let answer = try setTemperature(dir + "/control.sock", 30.5)
        #expect(answer.contains("temperature@0x48:30.5"), "\(answer)")
        let two = try boot(Self.later, dir, "boot-2")
        #expect(two.value("eeprom10") == "0xab" && two.value("eeprom11") == "0xcd")
        #expect(two.value("temperature-word") == "0x801e", "30.5 °C = 0x1E80")

        // A new server on the same file: the EEPROM is what the guest wrote; the sensor starts from its option again.
        server.stop()
        server = try startServer(dir, eeprom, generation: 2)
        let three = try boot(Self.later, dir, "boot-3")
        #expect(three.value("eeprom10") == "0xab" && three.value("eeprom11") == "0xcd")
        #expect(three.value("temperature-word") == "0x8015")
        #expect(server.isRunning, "server log:\n\(server.log)")
    }
}
