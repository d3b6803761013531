import Foundation
import Logging
import Synchronization
import SystemCalls
import ServerCommands

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
            /// Expiries of the VM's watchdog since `avp up`; nil without a watchdog ({AVPS-v2.0-35}).
            public var watchdogExpiries: Int?
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
        /// Stopped by the supervisor to restart it with a server: restarted whatever its policy.
        var restartWithServer = false
        /// The VM's watchdog, if it has one.
        var watchdog: WatchdogSupervision?
        /// Killed by the supervisor because its watchdog expired: restarted or left down by the watchdog's action.
        var stoppedByWatchdog: Platform.Watchdog.Action?
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
    /// Held while `run` runs: what makes this process the platform's supervisor.
    private var lock: SupervisorLock?

    public init(plan: PlatformPlan, avpExecutable: String, logger: Logger) {
        self.plan = plan
        avp = avpExecutable
        self.logger = logger
    }

    /// Asks `run` to stop everything and return (from any thread, e.g. a signal watcher).
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// Starts the platform and supervises it until `requestStop` or until every VM is down for good.
    public func run() throws {
        try plan.state.prepare()
        // Taking the lock is also the "already up" check: it fails while another supervisor holds it.
        lock = try SupervisorLock.acquire(at: plan.state.lockPath, platform: plan.platform.name)
        defer { lock = nil }
        try plan.createMissingImages()
        try HostDevicePreconditions.verify(plan)
        let macvtaps = plan.vms.flatMap(\.macvtaps), macvtapLog = "\(plan.logDirectory)/macvtap.log"
        try Macvtap.create(macvtaps, log: macvtapLog)
        defer { Macvtap.delete(macvtaps, log: macvtapLog) }

        servers = plan.servers.map { Child(name: $0.name, kind: "server/" + $0.kind.rawValue) }
        vms = plan.vms.map { Child(name: $0.name, kind: "vm/" + $0.command.machine.rawValue) }
        for (i, launch) in plan.vms.enumerated() {
            guard let policy = launch.watchdog, let device = launch.command.watchdog else { continue }
            vms[i].watchdog = WatchdogSupervision(vm: launch.name, policy: policy, socket: device.qmpSocket, logger: logger)
        }
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
            // An aarch64 VM's device tree, written afresh for every boot (new kaslr-seed and rng-seed).
            try ArmVirtHardware.writeBootTree(platform: plan.platform, launch: launch)
            // A UEFI VM's boot disk carries this boot's kernel, initrd and command line.
            if let uefi = launch.command.uefi {
                try UefiBoot.prepare(kernel: launch.command.kernel, initrd: launch.command.initrd,
                                     kernelArguments: launch.command.fullKernelArguments, disk: uefi.disk, variables: uefi.variables)
            }
            // Each macvtap's tap, opened for this boot, at the descriptor its `-netdev tap,fd=` names.
            var taps: [(source: Int32, target: Int32)] = []
            defer { for tap in taps { close(tap.source) } }
            for tap in launch.macvtaps { taps.append((try tap.openTap(), tap.fd)) }
            child.process = try spawn(try QemuProcess.resolve(launch.command.qemu), launch.command.arguments, log: launch.logPath, inheriting: taps)
            child.state = "running"
            child.watchdog?.vmStarted()
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
            if case let .restartsVMs(reason) = launch.onRestart { restartVMs(using: launch.name, because: reason) }
        }
        if let at = child.restartAt, Date() >= at {
            child.restartAt = nil
            child.restarts += 1
            startServer(child, launch)
        }
    }

    /// Stops every running VM that depends on `server`; `superviseVM` starts it again once it
    /// has exited (after the server, which restarts at once).
    private func restartVMs(using server: String, because reason: String) {
        for (i, child) in vms.enumerated() where plan.vms[i].servers.contains(server) {
            guard let process = child.process else { continue }
            logger.warning("VM \(child.name): restarting with server \(server) (\(reason))")
            child.restartWithServer = true
            process.signal(SIGTERM)
        }
    }

    private func superviseVM(_ child: Child, _ launch: PlatformPlan.VMLaunch) {
        // {AVPS-v2.0-35}: QEMU reports the expiry and does nothing itself; the watchdog's action is taken here.
        if let process = child.process, process.isRunning, child.stoppedByWatchdog == nil, let action = child.watchdog?.poll() {
            child.stoppedByWatchdog = action
            process.signal(SIGKILL)
        }
        if let process = child.process, !process.isRunning {
            let clean = process.exitedCleanly
            child.lastExit = process.exitCode
            child.process = nil
            let withServer = child.restartWithServer
            let byWatchdog = child.stoppedByWatchdog
            let policyRestarts = launch.restart == .always || (launch.restart == .onFailure && !clean)
            let again = withServer || byWatchdog == .restart || (byWatchdog == nil && policyRestarts)
            child.restartWithServer = false
            child.stoppedByWatchdog = nil
            child.state = again ? "restarting" : byWatchdog == .poweroff ? "powered off (watchdog)" : (clean ? "powered off" : "failed")
            child.restartAt = again ? Date().addingTimeInterval(backoff(child)) : nil
            let reason = withServer ? "with its server" : byWatchdog == .restart ? "watchdog" : launch.restart.rawValue
            logger.notice("VM \(launch.name) exited (\(describe(process)))\(again ? "; restarting (\(reason))" : byWatchdog == .poweroff ? "; left down (watchdog)" : "")")
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

    private func spawn(_ executable: String, _ arguments: [String], log: String,
                       inheriting: [(source: Int32, target: Int32)] = []) throws -> ChildProcess {
        if let setpriv = Self.setpriv {
            return try ChildProcess(executable: setpriv, arguments: ["--pdeathsig", "KILL", "--", executable] + arguments, logPath: log,
                                    inheriting: inheriting)
        }
        return try ChildProcess(executable: executable, arguments: arguments, logPath: log, inheriting: inheriting)
    }

    private func waitForSockets(_ launch: PlatformPlan.ServerLaunch) {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !launch.sockets.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) { usleep(20_000) }
    }

    // MARK: Status

    private func writeStatus() {
        func entry(_ c: Child) -> Status.Entry {
            Status.Entry(name: c.name, kind: c.kind, state: c.state, pid: c.process?.pid,
                         restarts: c.restarts, lastExit: c.lastExit, watchdogExpiries: c.watchdog?.expiries)
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

    /// The pid of the live supervisor of a state directory, if one runs: the process the
    /// kernel says holds the directory's `SupervisorLock`. Never a pid read from a file, so
    /// `avp down` cannot be made to signal another process, and `avp status` and `avp up`
    /// agree with it. Throws if the state directory is not private (`StateDirectory`).
    ///
    /// Not for use inside the supervisor itself: opening and closing the lock file there
    /// would release its own lock (see `SupervisorLock`).
    public static func runningSupervisor(_ state: StateDirectory) throws(PlatformError) -> Int32? {
        guard try state.existing() else { return nil }
        return try SupervisorLock.holder(at: state.lockPath)
    }

    public static func runningSupervisor(_ plan: PlatformPlan) throws(PlatformError) -> Int32? {
        try runningSupervisor(plan.state)
    }

    /// The status the supervisor last recorded; nil if it never ran with this state
    /// directory. A status file that is not what the supervisor writes is an error naming it.
    public static func readStatus(_ state: StateDirectory) throws(PlatformError) -> Status? {
        guard try state.existing() else { return nil }
        let path = state.statusPath
        let fix = "remove it; the next 'avp up' writes a new one"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .corruptState(path, problem: "it cannot be read", fix: "check its permissions, or " + fix)
        }
        do {
            return try JSONDecoder().decode(Status.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw .corruptState(path, problem: "it has no '\(UserText.shortened(key.stringValue))'", fix: fix)
        } catch DecodingError.typeMismatch, DecodingError.valueNotFound {
            throw .corruptState(path, problem: "a field has a value of the wrong type", fix: fix)
        } catch {
            throw .corruptState(path, problem: "it is not the JSON the supervisor writes", fix: fix)
        }
    }

    public static func readStatus(_ plan: PlatformPlan) throws(PlatformError) -> Status? {
        try readStatus(plan.state)
    }
}

/// What makes a process the supervisor of a state directory: a POSIX record lock
/// (`fcntl(F_SETLK)`) on `supervisor.lock`, held for the supervisor's whole life.
///
/// Why a lock and not a pid file: a pid file names whatever process has that pid now,
/// which after a crash and pid reuse, or after anyone writes the file, is an unrelated
/// process that `avp down` would then kill. The kernel drops the lock when its holder
/// exits, however it exits, so a lock is never stale; and `F_GETLK` reports the pid of
/// the process holding it, so the pid `avp down` signals comes from the kernel, not from
/// a file. `avp down` also closes the gap between that query and the signal: it opens a
/// pidfd on the holder, checks that the holder is still that pid, and signals through the
/// pidfd, which cannot reach a later process given the same pid. POSIX locks are not inherited by the servers and VMs the
/// supervisor starts. They are released when the holder closes *any* descriptor of the
/// file, so inside the supervisor only this class opens it.
final class SupervisorLock {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Takes the lock, or throws `alreadyUp` with the pid of the supervisor that has it.
    static func acquire(at path: String, platform: String) throws(PlatformError) -> SupervisorLock {
        guard let fd = try openLockFile(path, flags: O_RDWR | O_CREAT) else {
            throw .corruptState(path, problem: "it cannot be created", fix: "check the state directory")
        }
        var request = wholeFile(F_WRLCK)
        guard fcntl(fd, F_SETLK, &request) == 0 else {
            let code = errno
            var probe = wholeFile(F_WRLCK)
            let holder = fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != Int16(F_UNLCK) && probe.l_pid > 0 ? probe.l_pid : nil
            close(fd)
            if code == EAGAIN || code == EACCES { throw .alreadyUp(platform: platform, supervisor: holder) }
            throw .corruptState(path, problem: "it cannot be locked (\(String(cString: strerror(code))))", fix: "remove it")
        }
        // For people looking at the directory; AVP itself never reads it back.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return SupervisorLock(fd: fd)
    }

    /// The pid of the process holding the lock at `path`, or nil if none does.
    static func holder(at path: String) throws(PlatformError) -> Int32? {
        guard let fd = try openLockFile(path, flags: O_RDONLY) else { return nil }
        defer { close(fd) }
        var probe = wholeFile(F_WRLCK)
        guard fcntl(fd, F_GETLK, &probe) == 0 else {
            throw .corruptState(path, problem: "its lock cannot be queried (\(String(cString: strerror(errno))))", fix: "remove it")
        }
        guard probe.l_type != Int16(F_UNLCK) else { return nil }
        guard probe.l_pid > 0 else {
            throw .corruptState(path, problem: "it is locked by a process AVP cannot see (another PID namespace?)",
                                fix: "stop the platform from where it was started")
        }
        return probe.l_pid
    }

    /// Opens the lock file (nil if there is none): never through a symbolic link, and only
    /// if it is a regular file of this user.
    private static func openLockFile(_ path: String, flags: Int32) throws(PlatformError) -> Int32? {
        let fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw .corruptState(path, problem: "it cannot be opened (\(String(cString: strerror(code))))",
                                fix: "remove it (it must be a regular file of yours, not a link)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else {
            close(fd)
            throw .corruptState(path, problem: "it is not a regular file of yours", fix: "remove it")
        }
        return fd
    }

    private static func wholeFile(_ type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        return lock
    }
}
