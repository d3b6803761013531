import Foundation
import Platform
import Testing

/// `avp up` on a platform file in a scratch directory, with its own state directory.
final class RunningPlatform {
    let directory: String
    let file: String
    let stateDirectory: String
    let process = Process()
    let logPath: String

    init(name: String, yaml: String, directory: String) throws {
        self.directory = directory
        file = directory + "/\(name).yaml"
        stateDirectory = directory + "/state"
        logPath = directory + "/up.log"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: try GuestHarness.avpBinary())
        process.arguments = ["up", file]
        process.environment = ProcessInfo.processInfo.environment.merging(["AVP_STATE_DIR": stateDirectory]) { $1 }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Runs another avp command on this platform (same state directory); returns (status, output).
    @discardableResult
    func avp(_ arguments: [String], input: String? = nil, closeInputAfter: Double = 4) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try GuestHarness.avpBinary())
        p.arguments = arguments
        p.environment = process.environment
        let out = Pipe(), inPipe = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            Thread.sleep(forTimeInterval: closeInputAfter)
            try inPipe.fileHandleForWriting.close()
        }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    var status: Supervisor.Status? {
        guard let data = FileManager.default.contents(atPath: stateDirectory + "/\(name)/status.json") else { return nil }
        return try? JSONDecoder().decode(Supervisor.Status.self, from: data)
    }

    var name: String { URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent }
    func logs(_ file: String) -> String { (try? String(contentsOfFile: stateDirectory + "/\(name)/logs/" + file, encoding: .utf8)) ?? "" }
    /// A VM's serial console log with LF line ends only (the arm64 PL011 writes CR LF, one Character in Swift).
    func serialLog(_ vm: String) -> String { logs("vm-\(vm).serial.log").replacingOccurrences(of: "\r", with: "") }
    var upLog: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Polls until `condition` holds or `seconds` pass.
    func wait(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(200_000)
        }
        return condition()
    }

    /// Types `command` into the VM's console until its output shows `expect` (the shell may still be
    /// starting), and returns what the command printed. The console replays its recent output to
    /// each client, which may hold `expect` from an earlier run, even from before the VM restarted:
    /// so the shell first prints a marker that no earlier output holds, and only what follows the
    /// marker counts. When `expect` never shows, the VM's logs and `avp up`'s follow the output.
    func consoleRun(_ vm: String, _ command: String, expect: String, attempts: Int = 8) throws -> String {
        var output = ""
        for _ in 0..<attempts {
            let nonce = UInt32.random(in: 1_000_000...9_000_000)
            // The shell computes the marker: the echo of the typed line does not hold it.
            output = try avp(["console", file, vm], input: "echo ran-$((\(nonce) + 1)); \(command)\n").1
            if let marker = output.range(of: "ran-\(nonce + 1)", options: .backwards) {
                let ran = String(output[marker.upperBound...])
                if ran.contains(expect) { return ran }
            }
            sleep(2)
        }
        return output + "\n--- \(vm)'s QEMU log ---\n" + logs("vm-\(vm).log").suffix(1000)
            + "\n--- \(vm)'s serial console ---\n" + serialLog(vm).suffix(1000)
            + "\n--- avp up ---\n" + upLog.suffix(2000)
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

@Suite(.serialized) struct PlatformInRealGuests {
    @Test("AVPS-v2.0-46/47: two development VMs with their own entropy and console; avp console round-trips a command; killed servers are survived")
    func developmentPlatform() throws {
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("platform-dev")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let disk = dir + "/ivi.img"
        _ = FileManager.default.createFile(atPath: disk, contents: nil)
        try FileHandle(forWritingTo: URL(fileURLWithPath: disk)).truncate(atOffset: 64 << 20)
        let platform = try RunningPlatform(name: "dev", yaml: """
            profile: development
            servers:
              - name: rng
                type: entropy
            networks:
              - name: lan
            vsock:
              allow: [[ivi, cluster]]
            vms:
              - name: ivi
                machine: q35
                memory: 512M
                restart: on-failure
                devices:
                  - type: entropy
                    server: rng
                  - type: block
                    image: ivi.img
                  - type: net
                    network: lan
                    mac: 02:00:00:00:20:01
                  - type: vsock
                    cid: 3
                  - type: console
              - name: cluster
                machine: microvm
                memory: 256M
                restart: on-failure
                devices:
                  - type: entropy
                    server: rng
                  - type: net
                    network: lan
                    address: 169.254.40.2/16
                  - type: vsock
                    cid: 4
                  - type: console
            """, directory: dir)
        defer { platform.stop() }
        func booted() -> Bool {
            platform.logs("vm-ivi.serial.log").contains(GuestImage.readyMarker)
                && platform.logs("vm-cluster.serial.log").contains(GuestImage.readyMarker)
        }
        #expect(platform.wait(GuestHarness.guestTimeout, booted), "guests did not boot; avp up log:\n\(platform.upLog)" as Comment)

        func entropyWorks(_ tag: String) throws {
            for vm in ["ivi", "cluster"] {
                // The arithmetic proves a shell ran it: the echoed input shows the expression, not its value.
                let out = try platform.consoleRun(vm, "echo \(tag)-$((40+2)) $(cat /sys/class/misc/hw_random/rng_current) $(head -c 32 /dev/hwrng | wc -c)",
                                                  expect: "\(tag)-42 virtio_rng.0 32")
                #expect(out.contains("\(tag)-42 virtio_rng.0 32"), "\(vm) console:\n\(out)")
                #expect(platform.logs("vm-\(vm).console.log").contains("\(tag)-42"))
            }
        }
        try entropyWorks("console")

        // The guests' init gave eth0 the platform file's addresses: ivi the link-local default
        // derived from its MAC 02:00:00:00:20:01 (169.254.33.1), cluster the one it names.
        let addressed = try platform.consoleRun("cluster", "ping -c 2 -W 3 169.254.33.1 > /dev/null && echo addressed-$((4*4))", expect: "addressed-16")
        #expect(addressed.contains("addressed-16"), "\(addressed)")

        // The platform's switch joins the two VMs; the vsock device is there for both.
        for (vm, ip) in [("cluster", 2), ("ivi", 1)] {
            let out = try platform.consoleRun(vm, "ip link set eth0 up; ip addr add 10.7.0.\(ip)/24 dev eth0; echo net-$((\(ip)*11)) $(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport | grep -c virtio)",
                                              expect: "net-\(ip * 11) 1")
            #expect(out.contains("net-\(ip * 11) 1"), "\(vm):\n\(out)")
        }
        let ping = try platform.consoleRun("ivi", "ping -c 2 -W 3 10.7.0.2 > /dev/null && echo ping-$((3*3))", expect: "ping-9")
        #expect(ping.contains("ping-9"), "\(ping)")
        #expect(platform.logs("switch-lan.json").contains("framesFromGuest"))
        let (statusCode, statusText) = try platform.avp(["status", platform.file])
        #expect(statusCode == 0 && statusText.contains("up, supervisor pid"), "\(statusText)")
        #expect(statusText.contains("ivi") && statusText.contains("cluster") && statusText.contains("running"))

        func killServer(_ name: String) throws {
            let entry = try #require(platform.status?.servers.first { $0.name == name })
            let pid = try #require(entry.pid)
            kill(pid, SIGKILL)
            #expect(platform.wait(20) {
                guard let s = platform.status?.servers.first(where: { $0.name == name }) else { return false }
                return s.restarts > entry.restarts && s.state == "running" && s.pid != pid
            }, "server \(name) not restarted:\n\(platform.upLog)" as Comment)
        }

        // The disk's server dies mid-run: QEMU's vhost-user-blk reconnects and the VM carries on, I/O included.
        try killServer("ivi-block1")
        let io = try platform.consoleRun("ivi", "dd if=/dev/urandom of=/dev/vda bs=64k count=16 oflag=direct 2>/dev/null; echo disk-$((2*21)) $?",
                                         expect: "disk-42 0")
        #expect(io.contains("disk-42 0"), "ivi after the block server restart:\n\(io)")
        #expect(platform.status?.vms.first { $0.name == "ivi" }?.restarts == 0)

        // The shared entropy server dies: QEMU 10.0's vhost-user-base cannot reattach a back end (it aborts on
        // reconnection), so each VM that used it is restarted by its on-failure policy; the platform, the
        // restarted server and the VMs' entropy come back.
        try killServer("rng")
        #expect(platform.wait(GuestHarness.guestTimeout) {
            guard let vms = platform.status?.vms, vms.count == 2 else { return false }
            return vms.allSatisfy { $0.state == "running" }
        })
        try entropyWorks("again")

        let (downCode, downText) = try platform.avp(["down", platform.file])
        #expect(downCode == 0 && downText.contains("stopped"), "\(downText)")
        #expect(platform.wait(30) { !platform.process.isRunning })
    }

    @Test("AVPS-v2.0-48, AVPS-v2.0-42: a production VM has no console at all, runs, and had its RNG seeded before any virtio driver loaded")
    func productionPlatform() throws {
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("platform-prod")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = dir + "/result.img"
        _ = FileManager.default.createFile(atPath: result, contents: Data(count: 1 << 20))
        let script = #"""
            {
              echo ALIVE
              [ -e /sys/class/tty/hvc0 ] && echo hvc0=present || echo hvc0=absent
              echo "virtio-consoles=$(ls /sys/bus/virtio/drivers/virtio_console 2>/dev/null | grep -c '^virtio')"
              echo "rng=$(cat /sys/class/misc/hw_random/rng_current)"
              echo "crng=$(dmesg | grep -m1 'crng init done' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')"
              # virtio drivers are modules that /init loads: the kernel frees its init memory just before /init runs.
              echo "init=$(dmesg | grep 'Freeing unused kernel image' | tail -n1 | sed 's/^\[ *\([0-9.]*\)\].*/\1/')"
              echo END
            } > /tmp/result
            dd if=/tmp/result of=/dev/vda conv=fsync 2>/dev/null
            """#
        try GuestHarness.image.initrd(withScript: script, at: dir + "/initrd")
        let platform = try RunningPlatform(name: "prod", yaml: """
            profile: production
            vms:
              - name: ecu
                memory: 512M
                initrd: \(dir)/initrd
                restart: never
                devices:
                  - type: block
                    image: result.img
                  - type: entropy
            """, directory: dir)
        defer { platform.stop() }
        // The VM powers off after its script; with nothing left to run, `avp up` ends.
        #expect(platform.wait(GuestHarness.guestTimeout) { !platform.process.isRunning }, "avp up still running:\n\(platform.upLog)" as Comment)
        let text = String(decoding: (FileManager.default.contents(atPath: result) ?? Data()).prefix { $0 != 0 }, as: UTF8.self)
        func value(_ key: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        #expect(text.hasPrefix("ALIVE"), "result disk:\n\(text)\nlog:\n\(platform.upLog)")
        #expect(value("hvc0") == "absent")
        #expect(value("virtio-consoles") == "0")
        #expect(value("rng") == "virtio_rng.0")
        let crng = Double(value("crng") ?? "") ?? .infinity, initStart = Double(value("init") ?? "") ?? 0
        #expect(crng < initStart, "the kernel's RNG was seeded at \(crng) s; /init (which loads the virtio drivers) started at \(initStart) s")
        // Nothing console-like was started: no serial log, no console server, and QEMU had none on its command line.
        #expect(!FileManager.default.fileExists(atPath: platform.stateDirectory + "/prod/logs/vm-ecu.serial.log"))
        let (code, dry) = try platform.avp(["up", platform.file, "--dry-run"])
        #expect(code == 0)
        #expect(dry.contains("-serial none -monitor none -parallel none"), "\(dry)")
        #expect(!dry.contains("virtconsole") && !dry.contains("console=") && !dry.contains("serve console"))
    }

    @Test("AVPS-v2.0-48: `avp check` and `avp up` refuse a production file that asks for a console")
    func productionConsoleIsRefused() throws {
        let dir = try GuestHarness.workDirectory("platform-refuse")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bad.yaml"
        try """
            profile: production
            vms:
              - name: ecu
                devices:
                  - type: entropy
                  - type: console
            """.write(toFile: file, atomically: true, encoding: .utf8)
        for command in [["check", file], ["up", file]] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try GuestHarness.avpBinary())
            p.arguments = command
            let out = Pipe()
            p.standardError = out
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 1, "\(command[0]): \(text)")
            #expect(text.contains("bad.yaml:6:15: error: VM 'ecu' has a console, but the production profile allows no console of any kind"), "\(text)")
        }
    }
}
