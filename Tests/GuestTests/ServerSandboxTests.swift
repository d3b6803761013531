import Foundation
import Platform
import Testing

/// {AVPS-v2.0-30}: every `avp serve` kind confined by default (issue 16), seen from the host
/// through /proc as FsSandboxFromTheHost sees the file-system server: the serving process is the
/// server's child, PID 1 of new PID, mount, network, IPC, UTS and cgroup namespaces; its root
/// holds its own /proc and the directories its profile binds (here all under the test's
/// directory in /tmp) and nothing of the host's; no capability in any set on any thread (the
/// console's hub threads run before the sandbox closes); no_new_privs and seccomp filter mode
/// on every thread; RLIMIT_NOFILE and RLIMIT_AS as the profile sets them. `--sandbox none` is
/// the control, read the same way. No guest: the sockets are never connected.
@Suite(.serialized) struct ServerSandboxFromTheHost {
    typealias View = FsSandboxFromTheHost.View
    static let noCapabilities = "0000000000000000"

    /// The kind's server, once it says it is sandboxed (namespace) or has bound its socket (none).
    func start(_ kind: SandboxedKind, sandbox: String?) throws -> (ServerProcess, dir: String) {
        let dir = try GuestHarness.workDirectory("sandbox-\(kind.name)")
        let server = try ServerProcess(arguments: try kind.commandLine(in: dir, sandbox: sandbox), logPath: dir + "/server.log")
        let deadline = Date().addingTimeInterval(30)
        func ready() -> Bool { sandbox == "none" ? FileManager.default.fileExists(atPath: kind.socket(in: dir)) : server.log.contains("sandboxed: ") }
        while !ready(), server.isRunning, Date() < deadline { usleep(20_000) }
        guard ready() else {
            server.stop()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            throw PlatformError.launchFailed("avp serve \(kind.name) never got ready; log:\n\(server.log)")
        }
        return (server, dir)
    }

    /// "Max open files" → (soft, hard) from /proc/PID/limits.
    static func limits(of pid: Int32) throws -> [String: (String, String)] {
        var result: [String: (String, String)] = [:]
        for line in try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8).split(separator: "\n").dropFirst() {
            let name = String(line.prefix(26)).trimmingCharacters(in: .whitespaces)
            let values = line.dropFirst(26).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if values.count >= 2 { result[name] = (values[0], values[1]) }
        }
        return result
    }

    @Test("AVPS-v2.0-30: every kind's default sandbox: PID 1 of its own namespaces, a root of /proc and its bound directories only, no capabilities, no_new_privs, seccomp 2 on every thread, its limits",
          .runningTimeLimit(minutes: 5), arguments: SandboxedKind.all)
    func namespaceSandbox(_ kind: SandboxedKind) throws {
        let (server, dir) = try start(kind, sandbox: nil)
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let children = try FsSandboxFromTheHost.children(of: server.process.processIdentifier)
        try #require(children.count == 1, "the server forks one sandboxed child: \(children); log:\n\(server.log)")
        let pid = children[0]
        let child = try View(pid), me = try View(getpid())
        let threads = child.threads.count
        #expect(child.each("Seccomp") == Array(repeating: "2", count: threads), "\(child.each("Seccomp"))")
        #expect(child.each("NoNewPrivs") == Array(repeating: "1", count: threads))
        for key in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
            #expect(child.each(key) == Array(repeating: Self.noCapabilities, count: threads), "\(key): \(child.each(key))")
        }
        #expect(child.main["NSpid"]?.split(whereSeparator: \.isWhitespace).map(String.init) == ["\(pid)", "1"], "NSpid \(child.main["NSpid"] ?? "-")")
        for name in FsSandboxFromTheHost.namespaces {
            #expect(child.namespaces[name] != me.namespaces[name], "\(name): \(child.namespaces[name] ?? "-") is the test's")
        }
        // The test's directory is under /tmp: the root holds proc and tmp, and tmp that directory alone.
        let top = "/" + dir.split(separator: "/")[0]
        #expect(child.root == ["proc", String(top.dropFirst())].sorted(), "\(child.root)")
        let inside = "/proc/\(pid)/root"
        #expect(try FileManager.default.contentsOfDirectory(atPath: inside + top) == [String(dir.split(separator: "/")[1])])
        #expect(FileManager.default.fileExists(atPath: inside + kind.socket(in: dir)), "its socket is where it was")
        #expect(!FileManager.default.fileExists(atPath: inside + "/etc/passwd") && !FileManager.default.fileExists(atPath: inside + "/usr"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: inside + "/proc").filter { Int($0) != nil } == ["1"])
        let mounts = try FsSandboxFromTheHost.mounts(of: pid)
        #expect(mounts["/"]?.contains("ro") == true, "\(mounts)")
        #expect(mounts.filter { $0.key != "/" && $0.key != "/proc" }.allSatisfy { $0.value.isSuperset(of: ["nosuid", "nodev", "noexec"]) }, "\(mounts)")
        let limits = try Self.limits(of: pid)
        #expect(limits["Max open files"].map { [$0.0, $0.1] } == ["1280", "1280"], "1024 + 256 for its one VM")
        let space = String(UInt64(16 + 64) << 30)
        #expect(limits["Max address space"].map { [$0.0, $0.1] } == [space, space], "16 GiB + 64 GiB for its one VM")
        // The parent only waits: it has unmapped the program's code that parsing touched (avp_sandbox_fork).
        let parentCode = try Self.residentCodeKiB(of: server.process.processIdentifier)
        #expect(parentCode < 1024, "the waiting parent keeps \(parentCode) KiB of avp-serve's code resident")
        // Issue 17: an idle server maps neither libcrypto nor libasound. The crypto server has only opened
        // libcrypto's file, for its first session to map inside the sandbox (CryptoInRealGuest).
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        for library in ["libcrypto", "libasound"] { #expect(!maps.contains(library), "an idle \(kind.name) server maps \(library)") }
        #expect(server.isRunning, "log:\n\(server.log)")
    }

    /// Resident KiB of a process's executable mappings of avp-serve, from /proc/PID/smaps.
    static func residentCodeKiB(of pid: Int32) throws -> Int {
        var total = 0, inCode = false
        for line in try String(contentsOfFile: "/proc/\(pid)/smaps", encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 5, fields[0].contains("-") {
                inCode = fields[1] == "r-xp" && fields[fields.count - 1].hasSuffix("/avp-serve")
            } else if inCode, fields.count >= 2, fields[0] == "Rss:" {
                total += Int(fields[1]) ?? 0
            }
        }
        return total
    }

    @Test("--sandbox none, the control: no child, the test's namespaces and root, its capabilities, no no_new_privs, no seccomp, its limits; the process is avp-serve, without Foundation",
          .runningTimeLimit(minutes: 5), arguments: SandboxedKind.all)
    func noSandbox(_ kind: SandboxedKind) throws {
        let (server, dir) = try start(kind, sandbox: "none")
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let pid = server.process.processIdentifier
        #expect(try FsSandboxFromTheHost.children(of: pid).isEmpty)
        let view = try View(pid), me = try View(getpid())
        #expect(view.each("Seccomp") == Array(repeating: "0", count: view.threads.count))
        #expect(view.main["NoNewPrivs"] == "0")
        #expect(view.main["CapEff"] == me.main["CapEff"] && view.main["CapEff"] != Self.noCapabilities, "CapEff \(view.main["CapEff"] ?? "-")")
        for name in FsSandboxFromTheHost.namespaces { #expect(view.namespaces[name] == me.namespaces[name], "\(name)") }
        #expect(view.root == me.root && view.root.contains("etc"))
        #expect(try Self.limits(of: pid)["Max address space"]?.0 == "unlimited")
        // `avp serve` replaced itself with avp-serve (LeanServe), which maps neither Foundation
        // nor a shared Swift runtime (both are what made an idle `avp serve` large; issue 17).
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        #expect(executable.hasSuffix("/avp-serve"), "\(executable)")
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        for library in ["libFoundation", "libswiftCore", "libyaml"] { #expect(!maps.contains(library), "\(library) is mapped") }
    }
}
