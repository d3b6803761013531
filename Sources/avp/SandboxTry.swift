import ArgumentParser
import Foundation
import Platform
import SystemCalls
import ServerCommands

/// `avp sandbox-try --attempt open:PATH -- serve KIND OPTIONS…` (hidden; the sandbox tests'):
/// parses the server command exactly as `avp serve` would, confines this process with that
/// server's profile through the same routine, then makes each attempt in turn and prints one line
/// per attempt ("open /etc/passwd: ENOENT", "socket unix: ok"). An attempt outside the seccomp
/// allow-list ends the process there (exit status 159, the SIGSYS handler's line on stderr).
struct SandboxTry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-try", abstract: "Confine as a server would, then try something (the sandbox tests).", shouldDisplay: false)

    @Option(help: "open:PATH (read-only), create:PATH (a new file), socket:inet|inet6|unix, connect:PATH (a Unix socket), exec:PATH (repeat).")
    var attempt: [String] = []

    @Argument(parsing: .captureForPassthrough, help: "The server's command line: serve KIND OPTIONS…")
    var server: [String] = []

    func run() throws {
        let words = server.first == "--" ? Array(server.dropFirst()) : server
        guard let command = try AVPCommand.parseAsRoot(words) as? any SandboxedServe else {
            throw ValidationError("give an avp serve command line after --")
        }
        if command.sandboxMode == .namespace {
            try command.confineAlone()
            print("confined: \(command.sandboxProfile.kind), \(command.sandboxProfile.allowedSyscallCount) system calls allowed")
        } else {
            print("not confined (--sandbox none)")
        }
        for one in attempt {
            let outcome = Self.attempt(one)
            print("\(one.replacingOccurrences(of: ":", with: " ", options: [], range: one.range(of: ":"))): \(outcome)")
            fflush(nil)
        }
    }

    /// "ok" or the errno's name.
    static func attempt(_ text: String) -> String {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let what = parts.first ?? "", argument = parts.count > 1 ? parts[1] : ""
        fflush(nil)
        switch what {
        case "open":
            let fd = open(argument, O_RDONLY | O_CLOEXEC)
            return result(fd)
        case "create":
            let fd = open(argument, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { unlink(argument) }
            return result(fd)
        case "socket":
            let family = ["inet": AF_INET, "inet6": AF_INET6, "unix": AF_UNIX][argument] ?? AF_UNSPEC
            return result(socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        case "connect":
            do {
                _ = try UnixSocket.connect(to: argument)
                return "ok"
            } catch {
                return "\(error)"
            }
        case "exec":
            var argv: [UnsafeMutablePointer<CChar>?] = [strdup(argument), nil]
            execv(argument, &argv)
            return name(errno)
        default:
            return "unknown attempt \(what)"
        }
    }

    private static func result(_ fd: Int32) -> String {
        if fd < 0 { return name(errno) }
        close(fd)
        return "ok"
    }

    static func name(_ code: Int32) -> String {
        switch code {
        case ENOENT: "ENOENT"
        case EACCES: "EACCES"
        case EPERM: "EPERM"
        case EROFS: "EROFS"
        case EAFNOSUPPORT: "EAFNOSUPPORT"
        case ECONNREFUSED: "ECONNREFUSED"
        default: "errno \(code)"
        }
    }
}
