import Foundation
import Testing

/// The `avp` executable SwiftPM built next to this test bundle (same build products
/// directory, whatever `--scratch-path` was), run as a subprocess for CLI tests.
enum AVPExecutable {
    struct Missing: Error, CustomStringConvertible {
        let looked: [String]
        var description: String {
            "the avp executable is not next to the test bundle (looked for \(looked.joined(separator: ", "))); "
                + "build it with the tests: swift build --build-tests"
        }
    }

    /// What a run printed and how it ended.
    struct Run {
        var status: Int32
        /// True if it died of a signal (a crash: SIGILL from a Swift trap, SIGSEGV, ...).
        var crashed: Bool
        var standardOutput: String
        var standardError: String
        var output: String { standardOutput + standardError }
    }

    static func path() throws -> String {
        var directories: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        directories.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        if let bundle = Bundle.main.executableURL { directories.append(bundle.resolvingSymlinksInPath().deletingLastPathComponent()) }
        let candidates = directories.map { $0.appendingPathComponent("avp").path }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Missing(looked: candidates)
        }
        return found
    }

    /// Runs `avp arguments...` with `environment` added to this process's (and the KVM probe
    /// off: `AVP_ACCEL=tcg`), stopping it after `timeout` seconds.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path())
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["AVP_ACCEL": "tcg"].merging(environment) { $1 }) { $1 }
        // Files, not pipes: nothing can block on a full pipe.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("avp-cli-\(UInt64.random(in: 0...UInt64.max))")
        let out = scratch.appendingPathExtension("out"), err = scratch.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("avp \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        return Run(status: process.terminationStatus, crashed: process.terminationReason == .uncaughtSignal,
                   standardOutput: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                   standardError: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
