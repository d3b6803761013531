import ArgumentParser
import Devices
import Foundation
import Logging
import Platform
import SystemCalls
import ServerCommands

/// The platform file argument and its loading, shared by the platform commands.
struct PlatformFileArgument: ParsableArguments {
    @Argument(help: "Platform file (YAML).")
    var file: String

    /// Loads and checks the file, printing every diagnostic; throws ExitCode(1) on errors.
    /// Commands that start nothing (describe, status, down, console) pass `checkingFiles:
    /// false`: they work while kernels or disk images are missing.
    func load(quietWarnings: Bool = false, checkingFiles: Bool = true) throws -> Platform {
        let result = PlatformLoader.load(path: file, checkingFiles: checkingFiles)
        for d in result.diagnostics where !(quietWarnings && d.severity == .warning) {
            FileHandle.standardError.write(Data((d.formatted(file: file) + "\n").utf8))
        }
        guard let platform = result.platform else {
            FileHandle.standardError.write(Data("\(file): \(result.errors.count) error(s)\n".utf8))
            throw ExitCode(1)
        }
        return platform
    }

    /// "no VM named 'x' in FILE; its VMs: a, b", for commands that take a VM name.
    func noSuchVM(_ name: String, in platform: Platform) -> CommandFailure {
        CommandFailure("no VM named \(UserText.quoted(name)) in \(UserText.shortened(file, limit: 200)); its VMs: "
                       + platform.vms.map(\.name).joined(separator: ", "))
    }

    /// Throws "no display named 'x' in FILE; its displays: a, b" unless `platform` has `name`.
    func requireDisplay(_ name: String, in platform: Platform) throws {
        guard !platform.displays.contains(where: { $0.name == name }) else { return }
        let names = platform.displays.map(\.name)
        throw CommandFailure("no display named \(UserText.quoted(name)) in \(UserText.shortened(file, limit: 200))"
                             + (names.isEmpty ? "; it has no displays" : "; its displays: \(names.joined(separator: ", "))"))
    }

    func plan(_ platform: Platform, qemu: String = "qemu-system-x86_64", webViewPort: UInt16? = 0) throws -> PlatformPlan {
        let image = GuestImage.default
        return try PlatformPlan(platform: platform, qemu: qemu,
                                accelerator: AcceleratorProbe.choose(qemu: qemu, image: image),
                                qemuVersion: QemuVersion.of(qemu), webViewPort: webViewPort)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a platform file; every problem with its line, column and fix. Exit status 0 or 1.")
    @OptionGroup var platformFile: PlatformFileArgument

    func run() throws {
        let platform = try platformFile.load()
        print("\(platformFile.file): OK — platform '\(platform.name)', profile \(platform.profile.rawValue), "
              + "\(platform.vms.count) VM(s), \(platform.servers.count) shared server(s)")
    }
}

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a platform's device servers and VMs and supervise them until Ctrl-C or `avp down`.")
    @OptionGroup var platformFile: PlatformFileArgument
    @Option(help: "QEMU binary.") var qemu = "qemu-system-x86_64"
    @Flag(help: "Print what would be started (server and QEMU command lines) and exit.") var dryRun = false
    @Option(help: ArgumentHelp("Serve the live web view of the platform's displays on 127.0.0.1:PORT (default: a free port, printed).",
                               valueName: "port"))
    var webPort: UInt16?
    @Flag(help: "No web view of the displays.") var noWebView = false
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if noWebView, webPort != nil { throw ValidationError("--web-port and --no-web-view exclude each other") }
    }

    func run() throws {
        // Before anything starts a thread (Foundation's Process does): every thread must block the
        // signals so that only the watcher below receives them and the platform is stopped cleanly.
        let signals = TerminationSignals()
        _ = try logging.bootstrap()
        let platform = try platformFile.load()
        let plan: PlatformPlan
        do { plan = try platformFile.plan(platform, qemu: qemu, webViewPort: try chosenWebPort(platform)) } catch let violation as ProductionLockdown.Violation {
            FileHandle.standardError.write(Data("\(violation)\n".utf8))
            throw ExitCode(1)
        }
        let avp = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        if dryRun {
            for s in plan.servers { print("server \(s.name): \(([avp] + s.arguments).map(Self.quote).joined(separator: " "))") }
            for v in plan.vms { print("vm \(v.name): \(([v.command.qemu] + v.command.arguments).map(Self.quote).joined(separator: " "))") }
            return
        }
        // Checked again, atomically, when the supervisor takes its lock; here so nothing is printed first.
        if let pid = try Supervisor.runningSupervisor(plan.state) {
            throw PlatformError.alreadyUp(platform: platform.name, supervisor: pid)
        }
        let supervisor = Supervisor(plan: plan, avpExecutable: avp, logger: Logger(label: "avp.up"))
        let watcher = try OSThread(name: "avp-signals") {
            _ = signals.wait()
            supervisor.requestStop()
        }
        _ = watcher
        print("platform '\(platform.name)' (\(platform.profile.rawValue)): state and logs in \(plan.stateDirectory)")
        for vm in plan.vms where vm.attachSocket != nil {
            print("  console of \(vm.name): avp console \(platformFile.file) \(vm.name)   (log: \(vm.consoleLogPath!))")
        }
        if !platform.displays.isEmpty {
            print("  displays: avp screenshot \(platformFile.file) DISPLAY FILE.png; policy: avp display \(platformFile.file) DISPLAY")
        }
        print("stop with Ctrl-C or: avp down \(platformFile.file)")
        // The address of an earlier run is not this run's (the supervisor of that run is gone).
        try? FileManager.default.removeItem(atPath: plan.state.webViewURLPath)
        if !platform.displays.isEmpty, !noWebView { try OSThread.detached(name: "avp-web-url") { Self.announceWebView(plan.state) } }
        try supervisor.run()
    }

    /// The port for the web view: as given, or one free now, so the GPU server keeps the same
    /// address across restarts (an open browser tab reconnects); nil for none.
    private func chosenWebPort(_ platform: Platform) throws -> UInt16? {
        if noWebView { return nil }
        if let webPort { return webPort }
        if platform.displays.isEmpty || dryRun { return 0 }
        return try LoopbackListener(port: 0).port
    }

    /// Prints the web view's address once the GPU server has written it.
    private static func announceWebView(_ state: StateDirectory) {
        for _ in 0..<600 {
            if let url = try? String(contentsOfFile: state.webViewURLPath, encoding: .utf8) {
                print("  web view of the displays: \(url.trimmingCharacters(in: .whitespacesAndNewlines))")
                fflush(nil)   // all streams: stdout is fully buffered on a pipe
                return
            }
            usleep(100_000)
        }
    }

    static func quote(_ s: String) -> String { s.contains(" ") ? "'\(s)'" : s }
}

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a platform started by `avp up`.")
    @OptionGroup var platformFile: PlatformFileArgument

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        let state = StateDirectory.default(for: platform)
        // Only the process holding the platform's supervisor lock is signalled (see SupervisorLock).
        guard let pid = try Supervisor.runningSupervisor(state) else {
            print("platform '\(platform.name)' is not running")
            return
        }
        // Signalled through a pidfd opened while it holds the lock: if the supervisor exited and its pid
        // went to another process between the lock query and the signal, that process is not the holder.
        do {
            let supervisor = try ProcessHandle(pid: pid)
            guard try Supervisor.runningSupervisor(state) == pid else {
                print("platform '\(platform.name)' is not running")
                return
            }
            try supervisor.send(SIGTERM)
        } catch let error as Errno where error.code == ESRCH {
            print("platform '\(platform.name)' is not running")
            return
        } catch let error as Errno {
            throw CommandFailure("cannot stop supervisor \(pid): \(error)")
        }
        // Stopped when the lock is free: the kernel releases it when the supervisor exits.
        let deadline = Date().addingTimeInterval(60)
        while (try? Supervisor.runningSupervisor(state)) == pid, Date() < deadline { usleep(100_000) }
        if (try? Supervisor.runningSupervisor(state)) == pid {
            throw CommandFailure("supervisor \(pid) did not stop within 60 s")
        }
        print("platform '\(platform.name)' stopped")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a platform's VMs and device servers with their state.")
    @OptionGroup var platformFile: PlatformFileArgument

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        let state = StateDirectory.default(for: platform)
        let running = try Supervisor.runningSupervisor(state)
        let recorded: Supervisor.Status?
        do { recorded = try Supervisor.readStatus(state) } catch {
            print("platform '\(platform.name)': " + (running.map { "up, supervisor pid \($0)" } ?? "down"))
            throw error
        }
        guard let status = recorded else {
            print("platform '\(platform.name)': " + (running.map { "up, supervisor pid \($0); no status recorded yet" } ?? "never started"))
            return
        }
        print("platform \(UserText.quoted(status.platform)) (\(UserText.shortened(status.profile))): " + (running.map { "up, supervisor pid \($0)" } ?? "down"))
        print(StatusTable(status: status, supervisorRunning: running != nil).rendered, terminator: "")
        if running != nil, let url = try? String(contentsOfFile: state.webViewURLPath, encoding: .utf8) {
            print("web view of the displays: \(url.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // AVPS 2.8.4: what the compositor's safety checks found, from the GPU server's statistics.
        if !platform.displays.isEmpty, let bytes = FileManager.default.contents(atPath: state.logDirectory + "/gpu.json"),
           let statistics = CompositorStatistics(json: [UInt8](bytes)) {
            for display in platform.displays {
                print("display \(display.name): \(statistics.framesComposed[display.name] ?? 0) frames composed")
                for (region, count) in statistics.safety.sorted(by: { ($0.key.layer, $0.key.region) < ($1.key.layer, $1.key.region) })
                where region.display == display.name {
                    print("  safety layer \(region.layer) region \(region.region): \(count.mismatches) of \(count.checks) checks failed")
                }
            }
        }
    }
}

struct Console: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach to a VM's text console (AVPS-v2.0-47). Ctrl-] detaches.")
    @OptionGroup var platformFile: PlatformFileArgument
    @Argument(help: "VM name.") var vm: String

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        let plan = try platformFile.plan(platform)
        guard let launch = plan.vms.first(where: { $0.name == vm }) else { throw platformFile.noSuchVM(vm, in: platform) }
        guard let path = launch.attachSocket else {
            throw ValidationError("VM '\(vm)' has no console (add '- type: console' to its devices; never in production)")
        }
        let socket: UnixSocket
        do { socket = try UnixSocket.connect(to: path) } catch {
            throw ValidationError("cannot attach to \(path): \(error) — is the platform up? (avp up \(platformFile.file))")
        }
        try ConsoleClient(socket: socket).run()
    }
}

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the platform file's JSON Schema (for editors).")
    @Option(help: "Write to this file instead of standard output.") var output: String?

    func run() throws {
        let schema = PlatformSchema.jsonSchema()
        if let output {
            try OutputFile.write(Array(schema.utf8), to: output)
        } else {
            print(schema, terminator: "")
        }
    }
}
