#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn(2) with a clean signal state: an
/// empty signal mask and default dispositions, whatever the parent blocks (a
/// supervisor blocks SIGINT/SIGTERM to receive them synchronously; its children must
/// still die on SIGTERM). Output goes to a log file, input is /dev/null.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private var status: Int32?

    /// Spawns `executable` with `arguments`, appending its stdout and stderr to `logPath`.
    /// `inheriting`: descriptors the child gets at `target` (each `source` above every target,
    /// so no dup2 overwrites a source still to be duplicated; the sources may be close-on-exec).
    public init(executable: String, arguments: [String], logPath: String,
                inheriting: [(source: Int32, target: Int32)] = []) throws(Errno) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        for fd in inheriting { posix_spawn_file_actions_adddup2(&actions, fd.source, fd.target) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw Errno(rc, call: "posix_spawn \(executable)") }
        pid = child
    }

    /// Reaps the child if it exited; true while it runs.
    public var isRunning: Bool {
        if status != nil { return false }
        var s: Int32 = 0
        let r = waitpid(pid, &s, WNOHANG)
        if r == pid { status = s; return false }
        return r == 0
    }

    /// Exit code, or 128 + signal number for a child killed by a signal; nil while it runs.
    public var exitCode: Int32? {
        guard !isRunning, let s = status else { return nil }
        let signal = s & 0x7f
        return signal == 0 ? (s >> 8) & 0xff : 128 + signal
    }

    /// True if the child exited on its own with status 0.
    public var exitedCleanly: Bool { exitCode == 0 }

    public func signal(_ number: Int32) {
        if isRunning { Glibc.kill(pid, number) }
    }

    /// SIGKILL and reap.
    public func kill() {
        guard isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        var s: Int32 = 0
        if waitpid(pid, &s, 0) == pid { status = s }
    }
}
