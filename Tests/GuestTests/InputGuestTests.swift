import Foundation
import Platform
import SystemCalls
import Testing

/// `avp serve input` against the Linux virtio_input driver (Debian's 6.12 kernel) under a
/// QEMU device line written like a user's: the guest names the device and its axes, and an
/// evdev reader in the guest sees the touch the host writes to the events socket.
@Suite(.serialized) struct InputInRealGuest {
    static let name = "AVP touch test"
    static let size = "800x480"

    /// Finds the device by name, prints what the kernel made of it, then reads 12 evdev events
    /// (24 bytes each on x86-64) while the host touches, and prints them as "ev=TYPE CODE VALUE".
    static let script = """
        modprobe evdev 2>/dev/null
        dev=
        i=0; while [ -z "$dev" ] && [ $i -le 100 ]; do
          for d in /sys/class/input/input*; do [ "$(cat $d/name 2>/dev/null)" = "\(name)" ] && dev=$d; done
          [ -n "$dev" ] || sleep 0.1; i=$((i+1))
        done
        [ -n "$dev" ] || { echo "FAIL: no input device named '\(name)'; have: $(cat /sys/class/input/*/name | tr '\\n' ',')"; exit 10; }
        echo "driver=$(basename $(readlink $dev/device/driver))"
        echo "id=$(cat $dev/id/bustype):$(cat $dev/id/vendor):$(cat $dev/id/product):$(cat $dev/id/version)"
        echo "properties=$(cat $dev/properties)"
        grep -A9 'N: Name="\(name)"' /proc/bus/input/devices > /tmp/proc
        echo "proc-ev=$(sed -n 's/^B: EV=//p' /tmp/proc)"
        echo "proc-key=$(sed -n 's/^B: KEY=//p' /tmp/proc)"
        echo "proc-abs=$(sed -n 's/^B: ABS=//p' /tmp/proc)"
        echo "proc-handlers=$(sed -n 's/^H: Handlers=//p' /tmp/proc)"
        node=$(ls -d $dev/event* 2>/dev/null | head -n 1); node=${node##*/}
        [ -n "$node" ] && [ -c /dev/input/$node ] || { echo "FAIL: no /dev/input/event* for the device (is evdev in the guest image?)"; exit 11; }
        timeout 30 dd if=/dev/input/$node of=/tmp/events bs=24 count=12 2>/dev/null &
        reader=$!
        i=0; until ls -l /proc/$reader/fd 2>/dev/null | grep -q "/dev/input/$node" || [ $i -gt 100 ]; do sleep 0.05; i=$((i+1)); done
        echo TOUCH-READY
        wait $reader
        echo "event-bytes=$(wc -c < /tmp/events)"
        od -An -v -t d4 -w24 /tmp/events | while read s1 s2 u1 u2 tc value; do echo "ev=$((tc & 65535)) $((tc >> 16)) $value"; done
        """

    /// The events the guest's evdev reader must see for `touch 100 50` and `release`: the
    /// contact (protocol B, slot 0 being current needs no ABS_MT_SLOT), the emulated pointer and
    /// both buttons, SYN_REPORT; then the contact ends, the buttons go up, SYN_REPORT.
    static let expected = [
        "3 57 0", "3 53 100", "3 54 50", "3 0 100", "3 1 50", "1 330 1", "1 272 1", "0 0 0",
        "3 57 -1", "1 330 0", "1 272 0", "0 0 0",
    ]

    @Test("virtio_input binds to `avp serve input`, shows its name, IDs and axes, and passes a host touch to evdev",
          arguments: [QemuCommandLine.Machine.q35, .microvm])
    func linuxDriverSeesTouch(machine: QemuCommandLine.Machine) throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.backports
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("input-\(machine.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = dir + "/input.sock", events = dir + "/input.events"
        let server = try ServerProcess(arguments: ["serve", "input", "--socket", socket, "--size", Self.size, "--name", Self.name,
                                                   "--events-socket", events], logPath: dir + "/server.log")
        defer { server.stop() }
        try server.waitForSocket(socket)
        try server.waitForSocket(events)

        var boot = GuestBoot()
        boot.image = image
        boot.machine = machine
        boot.devices = [.init(model: .input, socketPath: socket, id: "input0")]
        let (qemu, console) = try boot.start(script: Self.script, in: dir)
        defer { qemu.kill() }
        let ready = console.waitFor("TOUCH-READY", timeoutSeconds: GuestHarness.guestTimeout, while: { qemu.isRunning })
        #expect(ready, "console:\n\(console.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))")
        if ready {
            let client = try UnixSocket.connect(to: events)
            try client.send(Array("touch 100 50\nrelease\n".utf8))
            client.shutdown()
        }
        let exited = qemu.wait(timeoutSeconds: 60) != nil
        #expect(exited, "guest timed out; console:\n\(console.text.suffix(3000))")

        #expect(console.testExitStatus == 0, "console:\n\(console.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))")
        #expect(console.value("driver") == "virtio_input")
        #expect(console.value("id") == "0006:4156:0001:0001")
        #expect(console.value("properties") == "2", "INPUT_PROP_DIRECT")
        #expect(console.value("proc-ev") == "b", "EV_SYN, EV_KEY, EV_ABS")
        #expect(console.value("proc-key") == "400 10000 0 0 0 0", "BTN_TOUCH and BTN_LEFT")
        #expect(console.value("proc-abs") == "260800000000003", "ABS_X, ABS_Y, ABS_MT_SLOT, ABS_MT_POSITION_X/Y, ABS_MT_TRACKING_ID")
        let seen = console.text.components(separatedBy: .newlines).filter { $0.hasPrefix("ev=") }
            .map { String($0.dropFirst(3)).trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(seen == Self.expected, "\(seen)")
        server.stop()
        #expect(server.statistics["events"] == 14 && server.statistics["dropped"] == 0, "\(server.log.suffix(1000))")
    }
}
