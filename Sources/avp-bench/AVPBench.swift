import ArgumentParser

@main
struct AVPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avp-bench",
        abstract: "Load generators that drive vhost-user back ends with AVP's Swift front end (no guest).",
        subcommands: [BlockLoadCommand.self, SwitchLoadCommand.self, SwitchStuckPortLoadCommand.self, CompositorLoadCommand.self, GpuLoadCommand.self, GpioLoadCommand.self, GpioProbeCommand.self, ScmiLoadCommand.self])
}
