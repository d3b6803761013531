import Foundation
import Platform
import Testing

/// {AVPS-v2.0-30}: what a confined server cannot do, tried from inside. `avp sandbox-try` parses
/// a server's command line as `avp serve` does, confines itself with that kind's profile through
/// the server's own routine, then tries: opening a host file outside what the profile binds
/// (ENOENT: it is not in the sandbox's root), creating an AF_INET socket or exec'ing /bin/true
/// (the seccomp handler ends the process: exit status 159). Controls: a file in a bound
/// directory opens, and with `--sandbox none` everything succeeds.
@Suite(.serialized) struct ServerSandboxAttempts {
    struct Outcome {
        let status: Int32
        let output: String
        let errors: String

        /// The result printed for `attempt` ("open /x: ENOENT" → "ENOENT").
        func result(_ attempt: String) -> String? {
            let label = attempt.replacingOccurrences(of: ":", with: " ", options: [], range: attempt.range(of: ":")) + ": "
            return output.split(separator: "\n").first { $0.hasPrefix(label) }.map { String($0.dropFirst(label.count)) }
        }
    }

    static func run(_ attempts: [String], _ server: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try GuestHarness.avpBinary())
        process.arguments = ["sandbox-try"] + attempts.flatMap { ["--attempt", $0] } + ["--"] + server
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self), errors: String(decoding: errors, as: UTF8.self))
    }

    /// Every kind, and fs with its share.
    static let kinds = SandboxedKind.all + [SandboxedKind(name: "fs") { ["--socket", $0 + "/fs.sock", "--shared-dir", $0] }]

    /// A host file no server's profile binds.
    static func outsideFile() throws -> String {
        let dir = try GuestHarness.workDirectory("sandbox-outside")
        try "secret".write(toFile: dir + "/secret", atomically: false, encoding: .utf8)
        return dir + "/secret"
    }

    @Test("AVPS-v2.0-30: a confined server cannot open a host file outside its profile, but opens one in a bound directory",
          .runningTimeLimit(minutes: 5), arguments: kinds)
    func opening(_ kind: SandboxedKind) throws {
        let dir = try GuestHarness.workDirectory("sandbox-try-\(kind.name)"), secret = try Self.outsideFile()
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: (secret as NSString).deletingLastPathComponent)
        }
        try "mine".write(toFile: dir + "/allowed.txt", atomically: false, encoding: .utf8)
        // The file-system server sees its share at /share, everyone else their directories at their own paths.
        let allowed = kind.name == "fs" ? "/share/allowed.txt" : dir + "/allowed.txt"
        let opens = ["open:" + secret, "open:/etc/passwd", "open:" + allowed]
        let outcome = try Self.run(opens, try kind.commandLine(in: dir))
        print("allow-list \(kind.name): \(outcome.output.split(separator: "\n").first ?? "")")
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.result(opens[0]) == "ENOENT" && outcome.result(opens[1]) == "ENOENT", "\(outcome.output)")
        #expect(outcome.result(opens[2]) == "ok", "\(outcome.output)\(outcome.errors)")
        let control = try Self.run(opens, try kind.commandLine(in: dir, sandbox: "none"))
        #expect(control.result(opens[0]) == "ok" && control.result(opens[1]) == "ok", "\(control.output)\(control.errors)")
    }

    @Test("AVPS-v2.0-30: a confined server that creates an AF_INET socket or execs is killed by its seccomp handler (exit 159)",
          .runningTimeLimit(minutes: 5), arguments: kinds)
    func socketAndExec(_ kind: SandboxedKind) throws {
        let dir = try GuestHarness.workDirectory("sandbox-try-\(kind.name)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for attempt in ["socket:inet", "exec:/bin/true"] {
            let outcome = try Self.run([attempt], try kind.commandLine(in: dir))
            #expect(outcome.status == 159, "\(attempt): \(outcome.status) \(outcome.output)\(outcome.errors)")
            #expect(outcome.errors.contains("is not on the allow-list"), "\(outcome.errors)")
            #expect(outcome.result(attempt) == nil, "it never got to report: \(outcome.output)")
        }
        let control = try Self.run(["socket:inet"], try kind.commandLine(in: dir, sandbox: "none"))
        #expect(control.status == 0 && control.result("socket:inet") == "ok", "\(control.output)\(control.errors)")
        let exec = try Self.run(["exec:/bin/true"], try kind.commandLine(in: dir, sandbox: "none"))
        #expect(exec.status == 0 && exec.result("exec:/bin/true") == nil, "exec replaced the process: \(exec.output)")
    }

    @Test("AVPS-v2.0-30: socket(AF_UNIX) only for a server that connects at run time: killed for a listening entropy server, allowed with --connect and for vsock",
          .runningTimeLimit(minutes: 2))
    func unixSockets() throws {
        let dir = try GuestHarness.workDirectory("sandbox-try-unix")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let listening = try Self.run(["socket:unix"], ["serve", "entropy", "--socket", dir + "/e.sock"])
        #expect(listening.status == 159, "\(listening.output)\(listening.errors)")
        let connecting = try Self.run(["socket:unix"], ["serve", "entropy", "--connect", dir + "/vmm.sock"])
        #expect(connecting.status == 0 && connecting.result("socket:unix") == "ok", "\(connecting.output)\(connecting.errors)")
        let vsock = try Self.run(["socket:unix", "connect:\(dir)/host.sock_1234"],
                                 ["serve", "vsock", "--vm", "name=a,cid=3,listen=\(dir)/v.sock,uds=\(dir)/host.sock"])
        #expect(vsock.status == 0 && vsock.result("socket:unix") == "ok", "\(vsock.output)\(vsock.errors)")
        #expect(vsock.result("connect:\(dir)/host.sock_1234")?.isEmpty == false, "a connect reached the bound directory: \(vsock.output)")
    }
}
