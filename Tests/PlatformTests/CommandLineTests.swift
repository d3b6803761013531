import Foundation
import Platform
import Testing

/// The built `avp` executable, run as a user runs it.
@Suite struct AVPCommandLine {
    let s: Scratch
    let file: String
    let state: StateDirectory
    let environment: [String: String]

    init() throws {
        s = try Scratch()
        file = s.directory + "/demo.yaml"
        try """
            profile: development
            vms:
              - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}]}
              - {name: cluster, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}]}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        state = StateDirectory(path: s.directory + "/state/demo")
        environment = ["AVP_STATE_DIR": s.directory + "/state"]
    }

    func avp(_ arguments: String...) throws -> AVPExecutable.Run {
        try AVPExecutable.run(arguments, environment: environment)
    }

    // MARK: A: numbers

    @Test("avp check, describe and status report absurd numbers with a position and the range instead of crashing")
    func absurdNumbersDoNotCrash() throws {
        for value in ["1e300G", "infM", "99999999999999999999G", "9999999999G", "1:1:1:1:1:1:1:1:1:1:1:1"] {
            let path = s.directory + "/numbers.yaml"
            try "profile: development\nvms:\n  - name: a\n    memory: \(value)\n".write(toFile: path, atomically: true, encoding: .utf8)
            for command in [["check", path], ["describe", path, "--vm", "a"], ["status", path]] {
                let run = try AVPExecutable.run(command, environment: environment)
                #expect(!run.crashed && run.status == 1, "\(command) \(value): \(run.output)")
                #expect(run.standardError.hasPrefix("\(path):4:13: error: 'vms[0].memory'") && run.standardError.contains("from 128M to 256G"),
                        "\(command) \(value): \(run.output)")
            }
        }
        let path = s.directory + "/cpus.yaml"
        try "profile: development\nvms:\n  - name: a\n    cpus: 9223372036854775807:0\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = try AVPExecutable.run(["check", path])
        #expect(!run.crashed && run.standardError.hasPrefix("\(path):4:11: error: 'vms[0].cpus' must be a whole number from 1 to 255"), "\(run.output)")
    }

    // MARK: B: the supervisor and the state directory

    @Test("avp down does not signal a process whose pid was planted in the state directory")
    func downIgnoresPlantedPids() throws {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        try state.prepare()
        for name in ["supervisor.pid", "supervisor.lock"] {
            try "\(sleeper.processIdentifier)\n".write(toFile: state.path + "/" + name, atomically: true, encoding: .utf8)
        }
        let down = try avp("down", file)
        #expect(!down.crashed && down.status == 0 && down.standardOutput == "platform 'demo' is not running\n", "\(down.output)")
        usleep(200_000)
        #expect(sleeper.isRunning && kill(sleeper.processIdentifier, 0) == 0, "avp down signalled an unrelated process")
        let status = try avp("status", file)
        #expect(status.standardOutput == "platform 'demo': never started\n", "\(status.output)")
    }

    @Test("status, down and up refuse a state directory others can write to, naming it and the fix")
    func unsafeStateDirectoriesAreRefused() throws {
        try state.prepare()
        chmod(state.path, 0o770)
        for command in ["status", "down", "up"] {
            let run = try avp(command, file)
            #expect(!run.crashed && run.status == 1, "\(command): \(run.output)")
            #expect(run.standardError.contains("state directory \(state.path) is writable by its group (mode 0770)")
                    && run.standardError.contains("fix: chmod 700 \(state.path)"), "\(command): \(run.output)")
        }
    }

    @Test("status and up name the process that holds the supervisor lock")
    func theLockHolderIsTheSupervisor() throws {
        try state.prepare()
        // This test process plays the supervisor: it holds the lock the way `avp up` does.
        let fd = open(state.lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        try #require(fcntl(fd, F_SETLK, &lock) == 0)

        let status = try avp("status", file)
        #expect(status.standardOutput.hasPrefix("platform 'demo': up, supervisor pid \(getpid())"), "\(status.output)")
        let up = try avp("up", file)
        #expect(up.status == 1 && up.standardError.contains("platform 'demo' is already up (supervisor pid \(getpid())); run 'avp down' first"),
                "\(up.output)")
    }

    // MARK: C: smaller defects

    @Test("avp status reports a corrupt status.json as corrupt, with its path")
    func corruptStatus() throws {
        try state.prepare()
        try "{garbage".write(toFile: state.statusPath, atomically: true, encoding: .utf8)
        let run = try avp("status", file)
        #expect(!run.crashed && run.status == 1, "\(run.output)")
        #expect(run.standardOutput == "platform 'demo': down\n" && run.standardError.contains("\(state.statusPath) is corrupt"), "\(run.output)")
    }

    @Test("describe and console with an unknown VM list the VMs that exist")
    func unknownVMsListTheKnownOnes() throws {
        for command in [["describe", file, "--vm", "nosuch"], ["console", file, "nosuch"]] {
            let run = try AVPExecutable.run(command, environment: environment)
            #expect(run.status == 1 && run.standardError == "Error: no VM named 'nosuch' in \(file); its VMs: ivi, cluster\n", "\(run.output)")
        }
    }

    @Test("display and screenshot: an unknown display lists the ones there are; a platform that is down is named as such")
    func displaysOfAPlatformThatIsDown() throws {
        for command in [["display", file, "main"], ["screenshot", file, "main", s.directory + "/x.png"]] {
            let run = try AVPExecutable.run(command, environment: environment)
            #expect(run.status == 1 && run.standardError == "Error: no display named 'main' in \(file); it has no displays\n", "\(run.output)")
        }
        let shown = s.directory + "/shown.yaml"
        try """
            profile: development
            displays: [{name: main, mode: 640x480, size: 160x120, vm: ivi}]
            vms: [{name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: gpu}]}]
            """.write(toFile: shown, atomically: true, encoding: .utf8)
        let down = try AVPExecutable.run(["display", shown, "main", "--layer", "ivi", "--opacity", "9"], environment: environment)
        #expect(down.status == 1 && down.standardError.contains("control socket") && down.standardError.contains("is the platform up? (avp status \(shown))"),
                "\(down.output)")
        let twoChanges = try AVPExecutable.run(["display", shown, "main", "--layer", "0", "--opacity", "9", "--move", "0,0"], environment: environment)
        #expect(twoChanges.status != 0 && twoChanges.standardError.contains("give one change at a time"), "\(twoChanges.output)")
        let exclusive = try AVPExecutable.run(["up", shown, "--web-port", "8080", "--no-web-view"], environment: environment)
        #expect(exclusive.status != 0 && exclusive.standardError.contains("--web-port and --no-web-view exclude each other"), "\(exclusive.output)")
    }

    @Test("--output into a missing directory is one clean line, for every command that writes a file")
    func outputIntoMissingDirectories() throws {
        let missing = s.directory + "/no/such/dir"
        let commands = [["describe", file, "--vm", "ivi", "--output", missing + "/ivi.dts"],
                        ["schema", "--output", missing + "/schema.json"],
                        ["initrd", "--script", s.directory + "/initrd", "--output", missing + "/initrd.img"],
                        ["serve", "switch", "--port", "name=a,listen=\(s.directory)/switch.sock,mac=02:00:00:00:00:01", "--stats", missing + "/stats.json"]]
        for command in commands {
            let run = try AVPExecutable.run(command, environment: environment)
            let target = command.last!
            #expect(run.status == 1 && run.standardError == "Error: cannot write \(target): the directory \(missing) does not exist\n",
                    "\(command): \(run.output)")
        }
        let unreadable = try avp("initrd", "--script", s.directory + "/no-such-script.sh", "--output", s.directory + "/initrd.img")
        #expect(!unreadable.output.contains("NSCocoaErrorDomain"), "\(unreadable.output)")
        let written = try avp("schema", "--output", s.directory + "/schema.json")
        #expect(written.status == 0 && (try? String(contentsOfFile: s.directory + "/schema.json", encoding: .utf8)) == PlatformSchema.jsonSchema())
    }

    @Test("help texts read as whole sentences at 80 columns")
    func helpTextsAreWrappedOnlyByArgumentParser() throws {
        let commands: [[String]] = [[], ["check"], ["up"], ["down"], ["status"], ["console"], ["describe"], ["schema"], ["initrd"], ["run"],
                                    ["serve"], ["serve", "entropy"], ["serve", "block"], ["serve", "console"], ["serve", "switch"], ["serve", "vsock"]]
        for command in commands {
            let run = try AVPExecutable.run(command + ["--help"], environment: ["COLUMNS": "80"])
            #expect(run.status == 0, "\(command): \(run.output)")
            let lines = run.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for line in lines where !line.hasPrefix("USAGE:") {
                #expect(line.count <= 80, "avp \(command.joined(separator: " ")) --help: longer than 80 columns: \(line)")
                #expect(line.last != " ", "avp \(command.joined(separator: " ")) --help: a line ends in a space: '\(line)'")
            }
            // In the overview and discussion, a line that ends although the next line's first word
            // would have fit was cut by a hard line break, which ArgumentParser then wrapped again.
            // (ArgumentParser breaks a line that would fill all 80 columns, so 79 is full.)
            let prose = Array(lines.prefix { !$0.hasPrefix("USAGE:") })
            for (a, b) in zip(prose, prose.dropFirst()) where !a.isEmpty && !b.isEmpty && !b.hasPrefix(" ") {
                if a.hasPrefix(" ") {
                    #expect(b.first?.isUppercase == true || b.first == "`", "avp \(command.joined(separator: " ")) --help: an example line goes on: '\(a)' / '\(b)'")
                } else {
                    let next = b.prefix { $0 != " " }
                    #expect(a.count + 1 + next.count >= 80, "avp \(command.joined(separator: " ")) --help: cut mid-sentence: '\(a)' / '\(b)'")
                }
            }
        }
    }
}
