import ArgumentParser

@main
struct AVPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avp",
        abstract: "AVP: the Automotive Virtual Platform (AVPS v2.0) as vhost-user device servers for Linux/KVM.",
        subcommands: [Check.self, Up.self, Down.self, Status.self, Console.self, Describe.self, Schema.self, Serve.self, Run.self, Initrd.self])
}
