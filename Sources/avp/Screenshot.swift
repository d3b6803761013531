import ArgumentParser
import Devices
import Foundation
import Platform
import ServerCommands

/// `avp screenshot FILE DISPLAY PNG`: the running platform's composed display as a PNG.
struct Screenshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a display of a running platform, as composed from its VMs (AVPS-v2.0-28), to a PNG file.",
        discussion: "The GPU server keeps each composed display as logs/display-NAME.png in the state directory, at most half a second old; this copies it.")
    @OptionGroup var platformFile: PlatformFileArgument
    @Argument(help: "Display name (under displays: in the platform file).") var display: String
    @Argument(help: "PNG file to write.") var output: String

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        try platformFile.requireDisplay(display, in: platform)
        try OutputFile.checkDirectory(of: output)
        let source = ScanoutSnapshots.path(ofDisplay: display, in: StateDirectory.default(for: platform).logDirectory)
        guard let bytes = FileManager.default.contents(atPath: source) else {
            throw CommandFailure("display '\(display)' has no composed frame yet (\(source)); is the platform up? (avp status)")
        }
        try OutputFile.write([UInt8](bytes), to: output)
    }
}
