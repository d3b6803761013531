import ArgumentParser
import Foundation
import Platform

/// `avp conformance`: every AVPS v2.0 requirement with its status and the tests that prove it,
/// read from the test sources' names (docs/conformance.md); `--run` runs the real-guest ones.
struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "The AVPS v2.0 conformance matrix: each requirement's status and the tests that prove it.",
        discussion: """
            A requirement is implemented when a real-guest test (Tests/GuestTests, suite named …InRealGuest(s) or \
            …Guest(s)) cites it in its name without "(partial"; see docs/conformance.md. Exit status 1 when a test \
            cites an id AVPS v2.0 does not have, or when --run saw a test fail.
            """)

    @Argument(help: "Platform file: requirements about nothing it configures are shown as not configured.")
    var platform: String?

    @Flag(name: .customLong("run"), help: "Run the real-guest tests behind the matrix (swift test --skip-build; many minutes) and report their results.")
    var runTests = false

    @Option(help: "Output format: text, markdown or json.")
    var format: ConformanceFormat = .text

    @Option(help: ArgumentHelp("Test sources to read (default: Tests here, else the Tests of the package this avp was built in).", valueName: "dir"))
    var tests: String?

    @Option(help: ArgumentHelp("SwiftPM build directory for --run (default: the one this avp was built in).", valueName: "dir"))
    var scratchPath: String?

    @Option(help: ArgumentHelp("Probe a vhost-user back end on this socket instead (with --kind).", valueName: "socket"))
    var probe: String?

    @Option(help: ArgumentHelp("The device kind behind --probe's socket (block, gpu, entropy, …).", valueName: "kind"))
    var kind: String?

    @OptionGroup(title: "Probe options (with --probe)") var probeArguments: ProbeArguments

    func validate() throws {
        if (probe == nil) != (kind == nil) { throw ValidationError("--probe and --kind go together") }
        if probe != nil, runTests || platform != nil { throw ValidationError("--probe takes no platform file and no --run") }
    }

    func run() throws {
        if let probe, let kind {
            // ProbeRunner (module FrontEnd) drives the back end; exit status 1 when a requirement is not met.
            return try ProbeCommandLine.run(socket: probe, kind: kind, options: probeArguments.options, format: format)
        }
        let location = try PackageLocation.find(explicit: tests, currentDirectory: FileManager.default.currentDirectoryPath,
                                                executables: Self.executablePaths())
        let scan = try TestTreeScan.scan(directory: location.testsDirectory)
        for problem in scan.problems { FileHandle.standardError.write(Data("error: \(problem)\n".utf8)) }
        var matrix = ConformanceMatrix(tests: scan.tests, platform: try platform.map(Self.load))
        var failedRun = false
        if runTests {
            let run = GuestTestRun(packageDirectory: location.packageDirectory, scratchPath: scratchPath ?? location.scratchPath,
                                   tests: matrix.testsToRun, logPath: Self.logPath())
            Self.progress("running \(run.tests.count) real-guest test\(run.tests.count == 1 ? "" : "s") in \(location.packageDirectory); this takes many minutes")
            Self.progress("  \(run.commandLine)")
            Self.progress("  output: \(run.logPath)")
            let (outcomes, status) = try run.run(progress: { Self.progress("  " + $0) })
            matrix = matrix.applying(outcomes)
            failedRun = outcomes.values.contains { $0 == .failed || $0 == .noResult }
            Self.progress("swift test exited with status \(status); " + (failedRun ? "some tests failed (see \(run.logPath))" : "all passed"))
        }
        print(format.render(matrix), terminator: "")
        if !scan.problems.isEmpty || failedRun { throw ExitCode(1) }
    }

    /// The platform file, loaded as `avp check` loads it (without requiring its kernels and images).
    private static func load(_ path: String) throws -> Platform {
        let result = PlatformLoader.load(path: path, checkingFiles: false)
        for d in result.diagnostics { FileHandle.standardError.write(Data((d.formatted(file: path) + "\n").utf8)) }
        guard let platform = result.platform else {
            FileHandle.standardError.write(Data("\(path): \(result.errors.count) error(s)\n".utf8))
            throw ExitCode(1)
        }
        return platform
    }

    /// This executable as invoked and as the kernel resolved it.
    private static func executablePaths() -> [String] {
        [CommandLine.arguments[0]] + ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { [$0] } ?? [])
    }

    private static func logPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("avp-conformance-\(getpid()).log").path
    }

    /// Progress goes to standard error, so standard output is the matrix alone.
    private static func progress(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
