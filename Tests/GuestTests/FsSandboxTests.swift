import Foundation
import Platform
import Testing

/// `avp serve fs`'s sandbox (issue 12, docs/fs-threat-model.md) seen from the host through /proc:
/// the process that serves is the server's child, PID 1 of its own PID namespace, in its own
/// mount, network and IPC namespaces, with a read-only root holding only share, proc and sockets, the
/// capabilities chown, dac_override, dac_read_search, fowner and fsetid (bits 0 to 4) and no
/// others, no_new_privs, and seccomp in filter mode on every thread. `--sandbox none` is the
/// control: the same reads show the host's namespaces and root, all capabilities and no filter,
/// so a reading that cannot tell the two apart fails. No guest: the sockets are never connected.
@Suite(.serialized) struct FsSandboxFromTheHost {
    /// The five kept capabilities: CAP_CHOWN 0, DAC_OVERRIDE 1, DAC_READ_SEARCH 2, FOWNER 3, FSETID 4.
    static let keptCapabilities = "000000000000001f"
    static let namespaces = ["mnt", "net", "ipc", "pid", "uts", "cgroup"]
    static let shareFiles = ["a.txt", "b", "c.bin"]

    /// What /proc shows of one process.
    struct View {
        let pid: Int32
        /// Each thread's "Key:\tvalue" lines of /proc/PID/task/TID/status, the main thread first.
        let threads: [[String: String]]
        /// ns/mnt, ns/net, ... → "mnt:[4026531841]".
        let namespaces: [String: String]
        let root: [String]

        init(_ pid: Int32) throws {
            self.pid = pid
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap(Int32.init)
            // A thread may end between the listing and the read (the test's own pool does); the main one may not.
            threads = [try Self.status("/proc/\(pid)/status")]
                + tasks.filter { $0 != pid }.sorted().compactMap { try? Self.status("/proc/\(pid)/task/\($0)/status") }
            var links: [String: String] = [:]
            for name in FsSandboxFromTheHost.namespaces {
                links[name] = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(name)")
            }
            namespaces = links
            root = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root").sorted()
        }

        static func status(_ path: String) throws -> [String: String] {
            var fields: [String: String] = [:]
            for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return fields
        }

        /// One status field of every thread, e.g. ["2", "2"] for Seccomp.
        func each(_ key: String) -> [String] { threads.map { $0[key] ?? "-" } }
        var main: [String: String] { threads[0] }
    }

    /// The children of every thread of `pid` (/proc/PID/task/TID/children; CONFIG_PROC_CHILDREN).
    static func children(of pid: Int32) throws -> [Int32] {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return try tasks.flatMap { task in
            try String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8).split(separator: " ").compactMap { Int32($0) }
        }
    }

    /// Mount point → its per-mount options, from /proc/PID/mountinfo (fields 5 and 6, as the process sees them).
    static func mounts(of pid: Int32) throws -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for line in try String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 5 { result[String(fields[4])] = Set(fields[5].split(separator: ",").map(String.init)) }
        }
        return result
    }

    /// `avp serve fs` on a fresh share (sandbox `mode`, or the default when nil; `--read-only`), once it has said
    /// it is serving: its log line comes after the capabilities are dropped and the filter is in.
    func start(_ name: String, mode: String?, readOnly: Bool = false) throws -> (ServerProcess, dir: String) {
        let dir = try GuestHarness.workDirectory(name)
        let share = dir + "/share", sockets = dir + "/sockets"
        try FileManager.default.createDirectory(atPath: share + "/b", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
        for file in ["a.txt", "c.bin"] { try "data".write(toFile: share + "/" + file, atomically: false, encoding: .utf8) }
        let server = try ServerProcess(arguments: ["serve", "fs", "--socket", sockets + "/fs.sock", "--shared-dir", share]
                                           + (mode.map { ["--sandbox", $0] } ?? []) + (readOnly ? ["--read-only"] : []),
                                       logPath: dir + "/server.log")
        let deadline = Date().addingTimeInterval(20)
        while !server.log.contains("fs: sharing"), server.isRunning, Date() < deadline { usleep(20_000) }
        guard server.log.contains("fs: sharing") else {
            server.stop()
            throw PlatformError.launchFailed("avp serve fs never said it was serving; log:\n\(server.log)")
        }
        return (server, dir)
    }

    @Test("the default sandbox: the serving child is PID 1 of new PID, mount, net, IPC, UTS and cgroup namespaces, its root holds share, proc and sockets, CapEff/CapPrm/CapBnd 0x1f, no_new_privs, seccomp 2 on every thread",
          .runningTimeLimit(minutes: 2))
    func namespaceSandbox() throws {
        let (server, dir) = try start("fs-sandbox", mode: nil)
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let parent = server.process.processIdentifier
        let children = try Self.children(of: parent)
        try #require(children.count == 1, "the server forks one sandboxed child: \(children); log:\n\(server.log)")
        let child = try View(children[0]), me = try View(getpid())
        #expect(child.each("Seccomp") == Array(repeating: "2", count: child.threads.count), "threads: \(child.each("Seccomp"))")
        #expect(child.each("NoNewPrivs") == Array(repeating: "1", count: child.threads.count))
        #expect(child.each("CapEff") == Array(repeating: Self.keptCapabilities, count: child.threads.count), "\(child.each("CapEff"))")
        #expect(child.main["CapPrm"] == Self.keptCapabilities && child.main["CapBnd"] == Self.keptCapabilities,
                "CapPrm \(child.main["CapPrm"] ?? "-") CapBnd \(child.main["CapBnd"] ?? "-")")
        #expect(child.main["CapInh"] == "0000000000000000" && child.main["CapAmb"] == "0000000000000000")
        #expect(child.main["NSpid"]?.split(whereSeparator: \.isWhitespace).map(String.init) == ["\(children[0])", "1"],
                "PID 1 in its own namespace: NSpid \(child.main["NSpid"] ?? "-")")
        for name in Self.namespaces {
            #expect(child.namespaces[name] != me.namespaces[name], "\(name): \(child.namespaces[name] ?? "-") is the test's")
        }
        #expect(child.root == ["proc", "share", "sockets"], "\(child.root)")
        let inside = "/proc/\(children[0])/root"
        #expect(try FileManager.default.contentsOfDirectory(atPath: inside + "/share").sorted() == Self.shareFiles)
        #expect(try FileManager.default.contentsOfDirectory(atPath: inside + "/sockets/0") == ["fs.sock"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: inside + "/proc").filter { Int($0) != nil } == ["1"],
                "its /proc is its PID namespace's: itself alone")
        #expect(!FileManager.default.fileExists(atPath: inside + "/proc/sys"),
                "no /proc/sys: uid 0 could write host-wide settings there (kernel.core_pattern) without any capability")
        let mounts = try Self.mounts(of: children[0])
        #expect(mounts.keys.sorted() == ["/", "/proc", "/share", "/sockets/0"], "\(mounts)")
        #expect(mounts["/"]?.contains("ro") == true && mounts["/share"].map { $0.isSuperset(of: ["nosuid", "nodev"]) } == true, "\(mounts)")
        let planted = open(inside + "/planted", O_CREAT | O_WRONLY | O_CLOEXEC, 0o600), plantError = errno
        if planted >= 0 { close(planted) }
        #expect(planted == -1 && plantError == EROFS, "the sandbox root is read-only: \(planted), errno \(plantError)")
        // The parent only waits, outside the sandbox; it serves nothing.
        let outer = try View(parent)
        #expect(outer.namespaces["mnt"] == me.namespaces["mnt"] && outer.namespaces["pid"] == me.namespaces["pid"])
    }

    @Test("--sandbox none, the control: no child, the test's namespaces and root, every capability, no no_new_privs, no seccomp",
          .runningTimeLimit(minutes: 2))
    func noSandbox() throws {
        let (server, dir) = try start("fs-nosandbox", mode: "none")
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let pid = server.process.processIdentifier
        #expect(try Self.children(of: pid).isEmpty)
        let view = try View(pid), me = try View(getpid())
        #expect(view.each("Seccomp") == Array(repeating: "0", count: view.threads.count))
        #expect(view.main["NoNewPrivs"] == "0")
        #expect(view.main["CapEff"] == me.main["CapEff"] && view.main["CapEff"] != Self.keptCapabilities,
                "CapEff \(view.main["CapEff"] ?? "-"), the test's \(me.main["CapEff"] ?? "-")")
        #expect(view.main["CapBnd"] == me.main["CapBnd"] && view.main["CapBnd"] != Self.keptCapabilities)
        #expect(view.main["NSpid"] == "\(pid)")
        for name in Self.namespaces { #expect(view.namespaces[name] == me.namespaces[name], "\(name)") }
        #expect(view.root == me.root && view.root != ["proc", "share", "sockets"])
    }

    @Test("--read-only: inside the sandbox the share itself is a read-only mount, not only refused by the server", .runningTimeLimit(minutes: 2))
    func readOnlyShare() throws {
        let (server, dir) = try start("fs-sandbox-ro", mode: nil, readOnly: true)
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let children = try Self.children(of: server.process.processIdentifier)
        try #require(children.count == 1, "\(children); log:\n\(server.log)")
        let share = try Self.mounts(of: children[0])["/share"] ?? []
        #expect(share.isSuperset(of: ["ro", "nosuid", "nodev"]), "\(share)")
    }
}
