import ArgumentParser
import ServerCommands

/// The device servers without the platform: `avp serve <kind> …` runs this program (it sits next
/// to `avp`), so that an idle server maps only what serving needs (Package.swift says what).
@main
struct AVPServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avp serve", abstract: Serve.configuration.abstract, subcommands: Serve.configuration.subcommands)

    static func main() { mainWithCleanErrors() }
}
