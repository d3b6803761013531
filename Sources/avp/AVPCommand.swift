import ArgumentParser
import ServerCommands

@main
struct AVPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avp",
        abstract: "AVP: the Automotive Virtual Platform (AVPS v2.0) as vhost-user device servers for Linux/KVM.",
        subcommands: [Check.self, Up.self, Down.self, Status.self, Console.self, Describe.self, Screenshot.self, DisplayCommand.self, AudioCommand.self, I2cCommand.self, GpioCommand.self, ScmiCommand.self, Schema.self, Serve.self, Run.self, Initrd.self, UefiDisk.self, ConformanceCommand.self, SandboxTry.self])

    /// ArgumentParser's `main`, except that `avp serve` runs in `avp-serve` (LeanServe) and that Foundation's file errors, which it would print
    /// as an `NSCocoaErrorDomain` dump, become one line naming the file and the reason.
    static func main() {
        LeanServe.execIfServing(CommandLine.arguments)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: CommandFailure.cleaned(error))
        }
    }
}
