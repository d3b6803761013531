import Foundation

/// `avp conformance --run`: one `swift test --skip-build --filter '(A|B|…)'` for the real-guest
/// tests behind the matrix, followed line by line (under a terminal, so lines come as they are
/// written) for progress and each test's outcome. Its whole output goes to a log file.
public struct GuestTestRun: Sendable {
    /// The package whose tests run (where `swift test` runs).
    public var packageDirectory: String
    /// SwiftPM's build directory holding the built tests (`--scratch-path`), or nil for `.build`.
    public var scratchPath: String?
    public var tests: [TestReference]
    public var logPath: String

    public init(packageDirectory: String, scratchPath: String?, tests: [TestReference], logPath: String) {
        self.packageDirectory = packageDirectory
        self.scratchPath = scratchPath
        self.tests = tests
        self.logPath = logPath
    }

    /// One alternation of every test's pattern, so `swift test` runs once.
    public var filter: String { "(" + tests.map(\.filterPattern).joined(separator: "|") + ")" }

    /// `swift`'s arguments.
    public var arguments: [String] {
        ["test", "--skip-build"] + (scratchPath.map { ["--scratch-path", $0] } ?? []) + ["--filter", filter]
    }

    /// The command as a person would type it (for the progress line and the docs).
    public var commandLine: String {
        (["swift"] + arguments).map { $0.contains(where: { " |()\\'*$".contains($0) }) ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// Runs the tests; calls `progress` with a line for every test started, finished, or
    /// recording an issue; returns every test's outcome (`.noResult` for one never reported) and
    /// `swift test`'s exit status.
    public func run(progress: (String) -> Void) throws(ConformanceError) -> (outcomes: [TestReference: TestOutcome], status: Int32) {
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw .cannotRunTests("cannot create the log \(logPath)")
        }
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = launcherArguments(script: Self.scriptCommand())
        process.currentDirectoryURL = URL(fileURLWithPath: packageDirectory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw .cannotRunTests("\(error)") }

        var outcomes: [TestReference: TestOutcome] = [:]
        let begin = Date()
        var pending: [UInt8] = []
        func handle(_ raw: String) {
            let line = TestEventLine.withoutEscapes(raw).filter { $0 != "\r" }
            log.write(Data((line + "\n").utf8))
            switch TestEventLine.parse(line, tests: tests) {
            case let .started(test)?:
                progress("[\(Self.clock(since: begin))] started  \(test.name)")
            case let .finished(test, outcome)?:
                outcomes[test] = outcome
                progress("[\(Self.clock(since: begin))] \(outcome.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(test.name)"
                         + " (\(outcomes.count)/\(tests.count))")
            case let .issue(_, text)?:
                progress("             " + String(text.prefix(400)))
            case nil:
                break
            }
        }
        while true {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            pending += chunk
            // Bounded: a line longer than 1 MiB is cut (no event line comes near it).
            while let newline = pending.firstIndex(of: 0x0A) ?? (pending.count > 1 << 20 ? pending.count - 1 : nil) {
                handle(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeFirst(newline + 1)
            }
        }
        if !pending.isEmpty { handle(String(decoding: pending, as: UTF8.self)) }
        process.waitUntilExit()
        for test in tests where outcomes[test] == nil { outcomes[test] = .noResult }
        return (outcomes, process.terminationStatus)
    }

    /// What `/usr/bin/env` runs: `swift test …` under util-linux's `script`, which gives it a
    /// terminal (swift-testing holds back what it writes to a pipe until the run ends, and writes
    /// each line at once to a terminal); `swift` itself when there is no `script` (progress then
    /// comes at the end).
    func launcherArguments(script: String?) -> [String] {
        guard let script else { return ["swift"] + arguments }
        let command = (["swift"] + arguments).map(Self.shellQuoted).joined(separator: " ")
        // -q no banner, -f flush at once, -e its status is the command's, -c the command; no typescript file.
        return [script, "-qfec", command, "/dev/null"]
    }

    /// `script` on the PATH, if there is one.
    static func scriptCommand() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { $0 + "/script" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `s` in single quotes for sh.
    static func shellQuoted(_ s: String) -> String {
        "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
    }

    /// "12:34": minutes and seconds since `start`.
    private static func clock(since start: Date) -> String {
        let seconds = Int(Date().timeIntervalSince(start))
        let minutes = String(seconds / 60), rest = String(seconds % 60)
        return String(repeating: " ", count: max(0, 2 - minutes.count)) + minutes + ":" + (rest.count < 2 ? "0" : "") + rest
    }
}
