import ArgumentParser
import ServerCommands

@main
struct AVPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avp",
        abstract: "AVP: the Automotive Virtual Platform (AVPS v2.0) as vhost-user device servers for Linux/KVM.",
        subcommands: [Check.self, Up.self, Down.self, Status.self, Console.self, Describe.self, Screenshot.self, DisplayCommand.self, AudioCommand.self, I2cCommand.self, GpioCommand.self, ScmiCommand.self, Schema.self, Serve.self, Run.self, Initrd.self, UefiDisk.self, ConformanceCommand.self, SandboxTry.self])

    /// `avp serve` runs in `avp-serve` (LeanServe); every other command here, with file errors in one line.
    static func main() {
        LeanServe.execIfServing(CommandLine.arguments)
        mainWithCleanErrors()
    }
}
