import ArgumentParser

@main
struct AVPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avp",
        abstract: "AVP: the Automotive Virtual Platform (AVPS v2.0) as vhost-user device servers for Linux/KVM.",
        subcommands: [Serve.self, Run.self])
}
