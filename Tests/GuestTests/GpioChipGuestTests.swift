import Foundation
import Platform
import Testing

/// `avp serve gpio --chip` (the GPIO v2 uAPI provider, `GpioChipLines`) against a real kernel GPIO
/// chip: inside one guest of AVP's own kernel (CONFIG_GPIO_SIM, CONFIG_CONFIGFS_FS), a gpio-sim
/// chip (Linux Documentation/admin-guide/gpio/gpio-sim.rst) of eight named lines, the host's
/// `avp` and `avp-bench` copied in with their libraries, and `avp-bench gpio-probe` as the
/// virtio-gpio front end (VIRTIO 1.2 §5.17.6/§5.17.7) on the server's socket. gpio-sim's sysfs
/// `value` shows what the server drives; writing its `pull` makes an edge on an input.
/// The server runs with `--sandbox none`: AVP's guest kernel is built without namespaces (no
/// CONFIG_PID_NS), and its confinement is the host's business (`ServerSandboxFromTheHost` and
/// `ServerSandboxAttempts` check the gpio server's, `--chip` included).
@Suite(.serialized) struct GpioChipInRealGuest {
    /// Chip lines 0 led, 1 button, 5 heater are served (guest lines 0, 1, 2: led, button, relay);
    /// the other five stay free.
    static let script = """
        mount -t configfs none /sys/kernel/config || echo "FAIL: cannot mount configfs"
        g=/sys/kernel/config/gpio-sim/avp
        mkdir $g $g/bank0 || echo "FAIL: no gpio-sim in configfs"
        echo 8 > $g/bank0/num_lines
        i=0
        for n in led button spare2 spare3 spare4 heater spare6 spare7; do
          mkdir $g/bank0/line$i && echo $n > $g/bank0/line$i/name
          i=$((i+1))
        done
        echo 1 > $g/live
        chip=$(cat $g/bank0/chip_name)
        sim=/sys/devices/platform/$(cat $g/dev_name)/$chip
        echo "chip=$chip"
        gpiodetect
        avp serve gpio --chip /dev/$chip --line led --line button --line relay=5 \\
          --socket /tmp/gpio.sock --control /tmp/control.sock --sandbox none > /tmp/server.log 2>&1 &
        server=$!
        i=0
        while [ ! -S /tmp/gpio.sock ] || [ ! -S /tmp/control.sock ]; do
          i=$((i+1)); [ $i -gt 600 ] && { echo "FAIL: no server socket"; cat /tmp/server.log; break; }
          sleep 0.1
        done
        gpioinfo $chip
        echo "info-held=$(gpioinfo $chip | grep '"avp-gpio"' | cut -d'"' -f2 | tr '\\n' ',')"
        echo "info-unused=$(gpioinfo $chip | grep -c unused)"
        echo "free-line-get=$(gpioget $chip 2 >/dev/null 2>&1; echo $?)"
        echo "free-line-set=$(gpioset $chip 7=1 >/dev/null 2>&1; echo $?)"
        echo "held-line-get=$(gpioget $chip 0 >/dev/null 2>&1; echo $?)"
        avp-bench gpio-probe --socket /tmp/gpio.sock \\
          --step 'out:0=1' \\
          --step "sh:echo sysfs-led-1=\\$(cat $sim/sim_gpio0/value)" \\
          --step "sh:echo ctl-get-led=\\$(avp gpio get --control /tmp/control.sock led)" \\
          --step "sh:avp gpio list --control /tmp/control.sock | sed 's/^/ctl-list: /'" \\
          --step 'set:0=0' \\
          --step "sh:echo sysfs-led-0=\\$(cat $sim/sim_gpio0/value)" \\
          --step 'get:1' \\
          --step 'irq:1=both' \\
          --step "sh:echo pull-up > $sim/sim_gpio1/pull" \\
          --step 'wait-irq:1' \\
          --step 'get:1' \\
          --step "sh:echo ctl-get-button=\\$(avp gpio get --control /tmp/control.sock button)" \\
          --step 'irq:1=both' \\
          --step "sh:echo pull-down > $sim/sim_gpio1/pull" \\
          --step 'wait-irq:1' \\
          --step 'get:1' \\
          --step "sh:echo pull-up > $sim/sim_gpio5/pull" \\
          --step 'get:2' \\
          --step 'out:2=1' \\
          --step "sh:echo sysfs-heater-out=\\$(cat $sim/sim_gpio5/value)" \\
          --step 'in:2' \\
          --step "sh:echo pull-down > $sim/sim_gpio5/pull" \\
          --step 'get:2'
        echo "probe-status=$?"
        sleep 1
        kill $server
        wait $server
        echo "server-status=$?"
        echo "info-after-stop-unused=$(gpioinfo $chip | grep -c unused)"
        echo "--- server log"
        cat /tmp/server.log
        """

    @Test("AVPS-v2.0-37: pass-through of host GPIO hardware: avp serve gpio --chip drives, reads and hears edges of a real kernel GPIO chip (gpio-sim) through the GPIO v2 uAPI, holding only its configured lines")
    func gpioSimChip() throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.cached(.own)
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("gpio-chip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bench = GuestHarness.buildDirectory.appendingPathComponent("avp-bench").path
        guard FileManager.default.isExecutableFile(atPath: bench) else {
            throw PlatformError.missingFile(bench, fix: "build it first: swift build --build-tests")
        }
        var boot = GuestBoot()
        boot.image = image
        // Two debug Swift programs with their runtime: ~130 MB in the initrd, unpacked into RAM.
        boot.memoryMiB = 1536
        boot.files = try HostTools.files(forProgramsAt: [try GuestHarness.avpBinary(), bench])
        let started = Date()
        let console = try boot.run(script: Self.script, in: dir)
        let text = console.text
        let context = "console:\n\(text.suffix(6000))"
        /// Every value the guest printed for `key`, in order.
        func values(_ key: String) -> [String] {
            text.components(separatedBy: .newlines).filter { $0.hasPrefix(key + "=") }
                .map { String($0.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
        print("gpio-chip guest: \(String(format: "%.1f", Date().timeIntervalSince(started))) s")

        #expect(console.testExitStatus == 0, "\(context)")
        #expect(!text.contains("FAIL:"), "\(context)")
        // Only the configured lines are held; the others stay free for other programs.
        #expect(console.value("info-held") == "led,button,heater,", "\(context)")
        #expect(console.value("info-unused") == "5", "\(context)")
        #expect(console.value("free-line-get") == "0", "\(context)")
        #expect(console.value("free-line-set") == "0", "\(context)")
        #expect(console.value("held-line-get") != "0", "\(context)")
        // (1) SET_DIRECTION output + SET_VALUE drive the chip line.
        #expect(console.value("sysfs-led-1") == "1", "\(context)")
        #expect(console.value("sysfs-led-0") == "0", "\(context)")
        // (3) The control socket reports the chip line and who drives it.
        #expect(console.value("ctl-get-led") == "1", "\(context)")
        #expect(text.contains("ctl-list: led 1  driven by VM guest"), "\(context)")
        #expect(text.contains("ctl-list: button 0"), "\(context)")
        // (2) A pull-up on an input is an edge the chip provider hears: the armed eventq buffer
        // completes, and GET_VALUE reads 1.
        // A pull-down, with the interrupt armed again, is the falling edge.
        #expect(values("get1") == ["0", "1", "0"], "\(context)")
        #expect(values("irq1") == ["valid", "valid"], "\(context)")
        #expect(console.value("ctl-get-button") == "1", "\(context)")
        // The line found by offset (relay=5, the chip's "heater"): read, driven, read again.
        #expect(values("get2") == ["1", "0"], "\(context)")
        #expect(console.value("sysfs-heater-out") == "1", "\(context)")
        #expect(console.value("probe-status") == "0", "\(context)")
        #expect(console.value("server-status") == "0", "\(context)")
        #expect(console.value("info-after-stop-unused") == "8", "\(context)")
        #expect(text.contains("interrupts=2"), "\(context)")
    }
}
