import ArgumentParser
import Foundation
import Platform
import ServerCommands

/// `avp initrd`: the default guest's initramfs with a script (and host tools) layered on,
/// for platform files, benchmarks and experiments.
struct Initrd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an initrd: the cached guest image plus a script for /init to run and optional host tools.")
    @Option(help: "Shell script (busybox sh) the guest runs before powering off.") var script: String
    @Option(help: ArgumentHelp("Host program (a name on PATH, or a path) to copy into the guest with its libraries (repeat).", valueName: "program"))
    var tool: [String] = []
    @Option(help: "Output file.") var output: String

    func run() throws {
        // Before the work: a missing output directory is reported as that, not as a Foundation error dump.
        try OutputFile.checkDirectory(of: output)
        let image = GuestImage.default
        try image.check()
        let body: String
        do { body = try String(contentsOfFile: script, encoding: .utf8) } catch {
            throw CommandFailure.cleaned(error)
        }
        let text = "export PATH=/\(HostTools.binDirectory):$PATH\n" + body
        do { try image.initrd(withScript: text, extraFiles: try HostTools.files(for: tool), at: output) } catch {
            throw CommandFailure.cleaned(error)
        }
    }
}
