import Foundation
import Logging
import Synchronization
import SystemCalls

/// Runs a `PlatformPlan`: starts the device servers, then the VMs, keeps them
/// running (a server that dies is restarted at once and QEMU reconnects to it; a VM
/// that exits is restarted or left down by its restart policy), records the state
/// in status.json, and stops everything — VMs first — when asked.
public final class Supervisor: @unchecked Sendable {
    public struct Status: Codable, Sendable {
        public struct Entry: Codable, Sendable {
            public var name: String
            public var kind: String
            public var state: String
            public var pid: Int32?
            public var restarts: Int
            public var lastExit: Int32?
        }
        public var platform: String
        public var profile: String
        public var supervisorPID: Int32
        public var servers: [Entry]
        public var vms: [Entry]
    }

    private final class Child {
        let name: String
        let kind: String
        var process: ChildProcess?
        var restarts = 0
        var lastExit: Int32?
        var state = "starting"
        var restartAt: Date?
        init(name: String, kind: String) {
            self.name = name
            self.kind = kind
        }
    }

    public let plan: PlatformPlan
    private let avp: String
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private var servers: [Child] = []
    private var vms: [Child] = []
    private var lastStatus = ""

    public init(plan: PlatformPlan, avpExecutable: String, logger: Logger) {
        self.plan = plan
        avp = avpExecutable
        self.logger = logger
    }

    /// Asks `run` to stop everything and return (from any thread, e.g. a signal watcher).
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// Starts the platform and supervises it until `requestStop` or until every VM is down for good.
    public func run() throws {
        let fm = FileManager.default
        for dir in [plan.stateDirectory, plan.socketDirectory, plan.logDirectory] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        if let pid = Self.runningSupervisor(plan) {
            throw PlatformError.launchFailed("platform '\(plan.platform.name)' is already up (supervisor pid \(pid)); run 'avp down' first")
        }
        try String(getpid()).write(toFile: plan.pidPath, atomically: true, encoding: .utf8)
        defer { try? fm.removeItem(atPath: plan.pidPath) }

        servers = plan.servers.map { Child(name: $0.name, kind: "server/" + $0.kind.rawValue) }
        vms = plan.vms.map { Child(name: $0.name, kind: "vm/" + $0.command.machine.rawValue) }
        for (i, child) in servers.enumerated() { startServer(child, plan.servers[i]) }
        for launch in plan.servers { waitForSockets(launch) }
        for (i, child) in vms.enumerated() { startVM(child, plan.vms[i]) }
        writeStatus()

        while !stopRequested.load(ordering: .relaxed) {
            usleep(100_000)
            for (i, child) in servers.enumerated() { superviseServer(child, plan.servers[i]) }
            for (i, child) in vms.enumerated() { superviseVM(child, plan.vms[i]) }
            writeStatus()
            if vms.allSatisfy({ $0.process == nil && $0.restartAt == nil }) {
                logger.notice("every VM is down; stopping the device servers")
                break
            }
        }
        shutdown()
        writeStatus()
    }

    // MARK: Children

    private func startServer(_ child: Child, _ launch: PlatformPlan.ServerLaunch) {
        do {
            child.process = try spawn(avp, launch.arguments, log: launch.logPath)
            child.state = "running"
            logger.info("server \(launch.name) started (pid \(child.process!.pid))")
        } catch {
            child.state = "failed: \(error)"
            child.restartAt = Date().addingTimeInterval(backoff(child))
        }
    }

    private func startVM(_ child: Child, _ launch: PlatformPlan.VMLaunch) {
        do {
            child.process = try spawn(try QemuProcess.resolve(launch.command.qemu), launch.command.arguments, log: launch.logPath)
            child.state = "running"
            logger.info("VM \(launch.name) started (pid \(child.process!.pid))")
        } catch {
            child.state = "failed: \(error)"
            child.restartAt = launch.restart == .never ? nil : Date().addingTimeInterval(backoff(child))
        }
    }

    private func superviseServer(_ child: Child, _ launch: PlatformPlan.ServerLaunch) {
        if let process = child.process, !process.isRunning {
            child.lastExit = process.exitCode
            child.process = nil
            child.state = "restarting"
            // QEMU's vhost-user chardevs reconnect once the socket is back.
            child.restartAt = Date().addingTimeInterval(child.restarts == 0 ? 0 : backoff(child))
            logger.warning("server \(launch.name) exited (\(describe(process))); restarting")
        }
        if let at = child.restartAt, Date() >= at {
            child.restartAt = nil
            child.restarts += 1
            startServer(child, launch)
        }
    }

    private func superviseVM(_ child: Child, _ launch: PlatformPlan.VMLaunch) {
        if let process = child.process, !process.isRunning {
            let clean = process.exitedCleanly
            child.lastExit = process.exitCode
            child.process = nil
            let again = launch.restart == .always || (launch.restart == .onFailure && !clean)
            child.state = again ? "restarting" : (clean ? "powered off" : "failed")
            child.restartAt = again ? Date().addingTimeInterval(backoff(child)) : nil
            logger.notice("VM \(launch.name) exited (\(describe(process)))\(again ? "; restarting (\(launch.restart.rawValue))" : "")")
        }
        if let at = child.restartAt, Date() >= at {
            child.restartAt = nil
            child.restarts += 1
            startVM(child, launch)
        }
    }

    private func shutdown() {
        logger.notice("stopping platform '\(plan.platform.name)'")
        for group in [vms, servers] {
            for child in group { child.restartAt = nil; child.process?.signal(SIGTERM) }
            let deadline = Date().addingTimeInterval(10)
            while group.contains(where: { $0.process?.isRunning == true }), Date() < deadline { usleep(50_000) }
            for child in group {
                child.process?.kill()
                child.process = nil
                if child.state == "running" || child.state == "restarting" { child.state = "stopped" }
            }
        }
    }

    private func backoff(_ child: Child) -> TimeInterval { min(10, pow(2, Double(min(child.restarts, 4))) * 0.5) }

    private func describe(_ p: ChildProcess) -> String {
        guard let code = p.exitCode else { return "running" }
        return code > 128 ? "signal \(code - 128)" : "status \(code)"
    }

    /// util-linux's setpriv sets PR_SET_PDEATHSIG before exec: if the supervisor itself is
    /// killed, its servers and VMs die with it instead of running on unsupervised.
    static let setpriv = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") ? "/usr/bin/setpriv" : nil

    private func spawn(_ executable: String, _ arguments: [String], log: String) throws -> ChildProcess {
        if let setpriv = Self.setpriv {
            return try ChildProcess(executable: setpriv, arguments: ["--pdeathsig", "KILL", "--", executable] + arguments, logPath: log)
        }
        return try ChildProcess(executable: executable, arguments: arguments, logPath: log)
    }

    private func waitForSockets(_ launch: PlatformPlan.ServerLaunch) {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !launch.sockets.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) { usleep(20_000) }
    }

    // MARK: Status

    private func writeStatus() {
        func entry(_ c: Child) -> Status.Entry {
            Status.Entry(name: c.name, kind: c.kind, state: c.state, pid: c.process?.pid,
                         restarts: c.restarts, lastExit: c.lastExit)
        }
        let status = Status(platform: plan.platform.name, profile: plan.platform.profile.rawValue, supervisorPID: getpid(),
                            servers: servers.map(entry), vms: vms.map(entry))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(status) else { return }
        let text = String(decoding: data, as: UTF8.self)
        guard text != lastStatus else { return }
        lastStatus = text
        try? text.write(toFile: plan.statusPath, atomically: true, encoding: .utf8)
    }

    /// The pid of a live supervisor for this plan's state directory, if any.
    public static func runningSupervisor(_ plan: PlatformPlan) -> Int32? {
        guard let text = try? String(contentsOfFile: plan.pidPath, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0 else { return nil }
        return pid
    }

    public static func readStatus(_ plan: PlatformPlan) -> Status? {
        guard let data = FileManager.default.contents(atPath: plan.statusPath) else { return nil }
        return try? JSONDecoder().decode(Status.self, from: data)
    }
}
