// libFuzzer target: the platform file (Sources/Platform/Model): the bytes a user hands `avp check`
// and `avp up`, through every stage of PlatformLoader (text, structure scan, YAML, schema, decoding,
// rules), then the launch plan of a platform that checked. Properties:
// - loading never traps, and every diagnostic points into the file (line and column from 1, the
//   line at most one past the last) with at most PlatformLimits.diagnostics of them plus a summary;
// - a platform comes back exactly when no diagnostic is an error;
// - such a platform plans (`avp up --dry-run`), and each server's options, written as the
//   arguments `avp serve` gets, parse back to the same arguments.
// The file is read as if it sat in examples/, so the shipped examples (the seeds, fuzz/seeds/platform)
// find the files they name. Build and run: fuzz/run platform
import Foundation
import Platform
import ServerCommands

/// Where the fuzzed file is taken to be: relative paths in it start in examples/.
private let platformPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("examples/platform.yaml").path

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Kernels, initrds and images are not looked for (checkingFiles: false), as `avp describe` does.
    let result = PlatformLoader.load(bytes: bytes, path: platformPath, checkingFiles: false)
    // An upper bound of the file's lines: every LF, CR, and U+2028/U+2029 (E2 80 A8/A9) counted, as
    // libyaml breaks lines at each (a CR LF pair counts twice here).
    let lines = 1 + bytes.indices.count { i in
        bytes[i] == 0x0A || bytes[i] == 0x0D
            || (bytes[i] == 0xE2 && i + 2 < bytes.count && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9))
    }
    precondition(result.diagnostics.count <= PlatformLimits.diagnostics + 1, "\(result.diagnostics.count) diagnostics")
    for diagnostic in result.diagnostics {
        precondition(diagnostic.line >= 1 && diagnostic.line <= lines + 1 && diagnostic.column >= 1,
                     "diagnostic at \(diagnostic.line):\(diagnostic.column) in a file of \(lines) lines: \(diagnostic)")
    }
    precondition((result.platform != nil) == result.errors.isEmpty,
                 "platform \(result.platform == nil ? "missing" : "returned") with \(result.errors.count) errors: \(result.errors)")
    guard let platform = result.platform else { return 0 }
    let plan: PlatformPlan
    do {
        plan = try PlatformPlan(platform: platform, stateDirectory: "/avp-fuzz/state", accelerator: .tcg, qemuVersion: nil,
                                armAccelerator: .tcg)
    } catch {
        preconditionFailure("a platform that checked does not plan: \(error)")
    }
    for server in plan.servers { roundTrip(server.options) }
    return 0
}

/// The plan's options for one server, written and parsed back as `avp serve` would. The GPU
/// server's parse reads its layers' mask files, which the check (without files) did not: a mask
/// the host cannot read or decode is the host's, not the codec's.
private func roundTrip<Options: ServeOptions>(_ options: Options) {
    let written = options.arguments
    let again: Options
    do { again = try Options.parse(written) } catch {
        let message = Options.message(for: error)
        if message.contains(": mask ") { return }
        preconditionFailure("\(Options.command): the plan wrote \(written), which does not parse: \(message)")
    }
    precondition(again.arguments == written, "\(Options.command): \(written) read back as \(again.arguments)")
}
