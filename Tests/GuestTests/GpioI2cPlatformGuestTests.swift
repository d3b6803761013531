import Devices
import Foundation
import Platform
import Testing

/// The platform path for virtio-gpio and virtio-i2c: `avp up` of a file shaped like
/// examples/body-io.yaml (two VMs on one simulated GPIO block, an I2C adapter each), so the
/// plan's server arguments, sockets and QEMU models, and the `own` guest image the plan picks
/// for VMs with gpio/i2c devices, all meet real guests; `avp gpio` and `avp i2c` find the
/// servers' control sockets through the same platform file. Each VM runs a test script (an
/// initrd layer holding /avp/test.sh) whose markers the test reads from the console logs.
@Suite(.serialized) struct GpioI2cPlatformInRealGuests {
    /// Finds the virtio adapter's bus number (prints `i2c-bus=N`).
    static let findBus = """
        bus=""
        for d in /sys/bus/i2c/devices/i2c-*; do
          [ -e "$d/name" ] || continue
          case "$(cat $d/name)" in *virtio*) bus=${d##*/i2c-} ;; esac
        done
        echo "i2c-bus=$bus"
        [ -n "$bus" ] || { echo "FAIL: no i2c_virtio adapter"; exit 10; }
        scan() { i2cdetect -y $bus | tail -n +2 | cut -c5- | tr ' ' '\\n' | grep -E '^[0-9a-f]{2}$' | tr '\\n' ' '; }

        """

    /// The lines the guest sees, and `waitmon`: until gpioinfo shows gpiomon holding its line (its
    /// edge interrupt is then set up in the device: the driver sends IRQ_TYPE as the request is made).
    static let gpioNames = """
        echo "lines=$(gpioinfo gpiochip0 | grep -c 'line ')"
        echo "names=$(gpioinfo gpiochip0 | grep 'line ' | cut -d'"' -f2 | tr '\\n' ',')"
        waitmon() { i=0; until gpioinfo gpiochip0 | grep -q '"gpiomon"'; do [ $i -ge 120 ] && break; sleep 1; i=$((i+1)); done; }

        """

    /// body: door-lock (0), hazard-lamp (1) owned, ignition (2) read; eeprom@0x50. Its first boot
    /// writes 0x21 then the marker 0x5a at 0x20 and powers off when ignition rises; `restart:
    /// always` boots it again, and the second boot (which finds the marker) reports what the
    /// EEPROM kept.
    static let bodyScript = findBus + """
        first=$(i2cget -y $bus 0x50 0x20)
        echo "eeprom-20=$first"
        if [ "$first" = "0x5a" ]; then
          echo "eeprom-21=$(i2cget -y $bus 0x50 0x21)"
          echo BODY-SECOND-BOOT
          exec sleep 3600
        fi
        echo "found=$(scan)"

        """ + gpioNames + """
        echo "ro-set-ignition=$(gpioset gpiochip0 2=1 >/dev/null 2>&1; echo $?)"
        echo "no-line-3=$(gpioget gpiochip0 3 >/dev/null 2>&1; echo $?)"
        i2cset -y $bus 0x50 0x21 0xc3 || echo "FAIL: i2cset"
        i2cset -y $bus 0x50 0x20 0x5a || echo "FAIL: i2cset"
        echo "eeprom-written=$(i2cget -y $bus 0x50 0x20) $(i2cget -y $bus 0x50 0x21)"
        gpioset --mode=signal gpiochip0 0=1 &
        setpid=$!
        sleep 1
        echo BODY-SET-DONE
        gpiomon --num-events=1 --rising-edge gpiochip0 2 > /tmp/mon 2>&1 &
        monpid=$!
        waitmon
        echo BODY-MON-READY
        wait $monpid
        echo "mon-status=$?"
        echo "mon=$(cat /tmp/mon)"
        kill $setpid
        wait $setpid
        echo BODY-DONE
        """

    /// cluster: tell-tale (0) owned, ignition (1), door-lock (2), hazard-lamp (3) read;
    /// temperature@0x48. It waits to read body's door-lock, waits for ignition, drives its
    /// tell-tale, and waits for the host's temperature.
    static let clusterScript = findBus + """
        echo "found=$(scan)"
        echo "temperature-start=$(i2cget -y $bus 0x48 0x00 w)"
        echo "no-eeprom=$(i2cget -y $bus 0x50 0x00 >/dev/null 2>&1; echo $?)"

        """ + gpioNames + """
        echo "ro-set-door-lock=$(gpioset gpiochip0 2=1 >/dev/null 2>&1; echo $?)"
        echo "no-line-4=$(gpioget gpiochip0 4 >/dev/null 2>&1; echo $?)"
        i=0
        while [ "$(gpioget gpiochip0 2)" != 1 ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
        echo "door-lock-seen=$(gpioget gpiochip0 2)"
        gpiomon --num-events=1 --rising-edge gpiochip0 1 > /tmp/mon 2>&1 &
        monpid=$!
        waitmon
        echo CLUSTER-MON-READY
        wait $monpid
        echo "mon-status=$?"
        echo "mon=$(cat /tmp/mon)"
        gpioset --mode=signal gpiochip0 0=1 &
        setpid=$!
        i=0
        while [ "$(i2cget -y $bus 0x48 0x00 w)" = 0x8015 ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
        echo "temperature-now=$(i2cget -y $bus 0x48 0x00 w)"
        echo CLUSTER-DONE
        wait $setpid
        """

    /// examples/body-io.yaml with each VM's test initrd (the kernel is the plan's: the own image's).
    static func platformFile(_ dir: String) -> String {
        """
        profile: development
        vms:
          - name: body
            machine: q35
            memory: 384M
            initrd: \(dir)/body.initrd
            restart: always
            watchdog: {timeout: 30, action: restart}
            devices:
              - type: entropy
              - type: console
              - type: gpio
                lines: [door-lock, hazard-lamp]
                read-only-lines: [ignition]
              - type: i2c
                targets: [eeprom@0x50]
          - name: cluster
            machine: q35
            memory: 384M
            initrd: \(dir)/cluster.initrd
            restart: on-failure
            watchdog: {timeout: 30, action: notify}
            devices:
              - type: entropy
              - type: console
              - type: gpio
                lines: [tell-tale]
                read-only-lines: [ignition, door-lock, hazard-lamp]
              - type: i2c
                targets: ["temperature@0x48:21.5"]
        """
    }

    /// Every value of "key=value" lines in a console log, in order. The console VMs' hvc0 also
    /// has the image's getty shell, whose prompt and cursor query ("/ # ESC[6n") may start a line.
    static func values(_ key: String, in text: String) -> [String] {
        text.components(separatedBy: .newlines)
            .map { line in line.range(of: "\u{1b}[6n", options: .backwards).map { String(line[$0.upperBound...]) } ?? line }
            .filter { $0.hasPrefix(key + "=") }
            .map { String($0.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @Test("AVPS-v2.0-37, AVPS-v2.0-38 and virtio-i2c through avp up of a body/cluster platform: each guest's gpioinfo lists exactly its lines; one host edge (avp gpio set FILE) wakes gpiomon in both guests; body's gpioset is seen by avp gpio get FILE and by the cluster, which cannot drive it; each i2cdetect shows only its VM's targets; avp i2c FILE sets what the cluster's i2cget reads; body's EEPROM write is read back after a VM restart and is in the state directory's file")
    func bodyAndClusterPlatform() throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.cached(.own)
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("gpio-i2c-platform")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try image.initrd(withScript: Self.bodyScript, at: dir + "/body.initrd")
        try image.initrd(withScript: Self.clusterScript, at: dir + "/cluster.initrd")
        let started = Date()
        let platform = try RunningPlatform(name: "bodyio", yaml: Self.platformFile(dir), directory: dir)
        defer { platform.stop() }
        // With a console device the kernel's console, and so the script's output, is hvc0 (the console log);
        // the serial log has what the kernel printed before.
        let body = { platform.logs("vm-body.serial.log") + platform.logs("vm-body.console.log") }
        let cluster = { platform.logs("vm-cluster.serial.log") + platform.logs("vm-cluster.console.log") }
        func context() -> String {
            "body:\n\(body().suffix(2500))\ncluster:\n\(cluster().suffix(2500))\ngpio server:\n\(platform.logs("server-gpio.log").suffix(1500))\n"
                + "i2c server:\n\(platform.logs("server-i2c.log").suffix(1000))\nup log:\n\(platform.upLog.suffix(2000))"
        }
        func avp(_ arguments: [String]) throws -> (Int32, String) {
            let (code, text) = try platform.avp(arguments)
            return (code, text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        func seconds(_ t: TimeInterval) -> String { String(format: "%.2f", t) }

        // The plan: the own image's kernel, QEMU's vhost-user gpio and i2c models, one server of each.
        let (dryCode, dry) = try platform.avp(["up", platform.file, "--dry-run"])
        #expect(dryCode == 0 && dry.contains(image.kernel(for: .q35)), "\(dry)")
        #expect(dry.contains("vhost-user-gpio-pci") && dry.contains("vhost-user-i2c-pci") && dry.contains("serve gpio") && dry.contains("serve i2c"), "\(dry)")

        // body drives door-lock: the host sees it through the platform file.
        try #require(platform.wait(GuestHarness.guestTimeout) { body().contains("BODY-SET-DONE") }, "body did not set door-lock:\n\(context())")
        let booted = Date().timeIntervalSince(started)
        #expect(try avp(["gpio", "get", platform.file, "door-lock"]) == (0, "1"), "\(context())")
        let (_, list) = try avp(["gpio", "list", platform.file])
        #expect(list.contains("door-lock 1  driven by VM body") && list.contains("hazard-lamp 0") && list.contains("tell-tale 0"), "\(list)")

        // Both guests wait on ignition (the cluster once it has read body's door-lock); one host edge wakes both.
        try #require(platform.wait(GuestHarness.guestTimeout) { body().contains("BODY-MON-READY") && cluster().contains("CLUSTER-MON-READY") },
                     "the guests' gpiomon did not start:\n\(context())")
        let edge = Date()
        #expect(try avp(["gpio", "set", platform.file, "ignition", "1"]).0 == 0)
        let woke = platform.wait(30) { body().contains("mon-status=") && cluster().contains("mon-status=") }
        let wake = Date().timeIntervalSince(edge)
        #expect(woke, "one `avp gpio set FILE ignition 1` did not wake both guests' gpiomon:\n\(context())")
        #expect(try avp(["gpio", "get", platform.file, "ignition"]) == (0, "1"))

        // The cluster, woken, drives its own tell-tale and waits for the host's temperature.
        #expect(platform.wait(30) { (try? avp(["gpio", "get", platform.file, "tell-tale"]))?.1 == "1" }, "tell-tale:\n\(context())")
        let (setCode, setText) = try avp(["i2c", platform.file, "cluster", "0x48", "--celsius", "30.5"])
        #expect(setCode == 0 && setText == "30.5", "\(setText)")
        #expect(try avp(["i2c", platform.file, "cluster", "0x48"]) == (0, "30.5"))
        #expect(platform.wait(60) { cluster().contains("CLUSTER-DONE") }, "\(context())")

        // body powered off after the edge; `restart: always` booted it again, and it read its EEPROM.
        #expect(platform.wait(GuestHarness.guestTimeout) { body().contains("BODY-SECOND-BOOT") }, "body was not booted again:\n\(context())")
        let (_, table) = try avp(["i2c", platform.file])
        #expect(table.contains("body: ") && table.contains("eeprom@0x50") && table.contains("cluster: ") && table.contains("(30.5 °C)"), "\(table)")

        let b = body(), c = cluster()
        let v = { (key: String, text: String) in Self.values(key, in: text).first }
        #expect(v("lines", b) == "3" && v("names", b) == "door-lock,hazard-lamp,ignition,", "\(context())")
        #expect(v("lines", c) == "4" && v("names", c) == "tell-tale,ignition,door-lock,hazard-lamp,", "\(context())")
        #expect(v("mon-status", b) == "0" && v("mon", b)?.contains("RISING EDGE offset: 2") == true, "\(context())")
        #expect(v("mon-status", c) == "0" && v("mon", c)?.contains("RISING EDGE offset: 1") == true, "\(context())")
        #expect(v("door-lock-seen", c) == "1", "the cluster did not read body's door-lock:\n\(context())")
        #expect(v("ro-set-door-lock", c).map { $0 != "0" } == true, "the cluster drove body's door-lock:\n\(context())")
        #expect(v("ro-set-ignition", b).map { $0 != "0" } == true && v("no-line-3", b).map { $0 != "0" } == true, "\(context())")
        #expect(v("no-line-4", c).map { $0 != "0" } == true, "\(context())")

        #expect(v("i2c-bus", b) == "0" && v("i2c-bus", c) == "0", "\(context())")
        #expect(v("found", b) == "50" && v("found", c) == "48", "i2cdetect -y 0:\n\(context())")
        #expect(v("no-eeprom", c).map { $0 != "0" } == true, "\(context())")
        // LM75 register 0, most significant byte first, in half degrees: 21.5 °C = 0x1580, 30.5 °C = 0x1E80;
        // an SMBus word is low byte first.
        #expect(v("temperature-start", c) == "0x8015" && v("temperature-now", c) == "0x801e", "\(context())")
        #expect(Self.values("eeprom-20", in: b) == ["0xff", "0x5a"] && v("eeprom-written", b) == "0x5a 0xc3" && v("eeprom-21", b) == "0xc3",
                "\(context())")
        print("gpio/i2c platform: body's door-lock set \(seconds(booted)) s after avp up; one ignition edge to both gpiomon "
              + "wake-ups seen in the console logs \(seconds(wake)) s")

        let (downCode, downText) = try avp(["down", platform.file])
        #expect(downCode == 0, "\(downText)")
        #expect(platform.wait(30) { !platform.process.isRunning }, "avp up still running:\n\(platform.upLog.suffix(2000))")
        let vms = platform.status?.vms ?? []
        #expect(vms.first { $0.name == "body" }?.restarts == 1 && vms.allSatisfy { $0.watchdogExpiries == 0 }, "\(vms)")
        // The EEPROM outlives the platform, in the state directory.
        let file = StateDirectory(path: platform.stateDirectory + "/" + platform.name).i2cEepromFile(vm: "body", address: try #require(I2cAddress(0x50)))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(bytes.count == 256 && bytes[0x20] == 0x5A && bytes[0x21] == 0xC3, "\(file): \(bytes.count) bytes")
        print("gpio/i2c platform: whole test \(seconds(Date().timeIntervalSince(started))) s")
    }
}
