import ArgumentParser
import FrontEnd
import Platform
import ServerCommands

/// `avp conformance --probe SOCKET --kind KIND` options beyond the two the command declares.
struct ProbeArguments: ParsableArguments {
    @Flag(help: ArgumentHelp("""
        Block probe: overwrite the first 8 sectors (4 KiB, or one block) of the export with a pattern and DISCARD them, \
        then write their old content back. Without it the only WRITE puts back the bytes just read and DISCARD is \
        not tried. Use a disposable image, or one no guest is using.
        """))
    var allowWrites = false

    @Option(help: ArgumentHelp("Milliseconds one request may take before it counts as unanswered.", valueName: "ms"))
    var requestTimeout = 5000

    var options: ProbeOptions {
        ProbeOptions(allowWrites: allowWrites, requestTimeoutMilliseconds: max(1, requestTimeout))
    }
}

/// Runs a probe for `avp conformance` and prints its report.
enum ProbeCommandLine {
    /// Prints the report in `format`; exit status 1 when a requirement is not met.
    static func run(socket: String, kind: String, options: ProbeOptions = ProbeOptions(), format: ConformanceFormat) throws {
        let report: ProbeReport
        do { report = try ProbeRunner.run(socket: socket, kind: kind, options: options) }
        catch { throw CommandFailure("\(error)") }
        switch format {
        case .text: print(report.text, terminator: "")
        case .markdown: print(report.markdown, terminator: "")
        case .json: print(report.json, terminator: "")
        }
        if report.findings.contains(where: { $0.verdict == .notMet }) { throw ExitCode(1) }
    }
}
