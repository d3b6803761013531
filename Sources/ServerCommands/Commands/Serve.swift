import ArgumentParser

/// `avp serve <device>`: one device back end on a vhost-user socket, like other
/// vhost-user device daemons, for any VMM. Each subcommand reads its kind's typed
/// options (Platform/Kinds/Serve, also written by the plan) and runs in `ServeLifecycle`.
///
/// In the help texts, each paragraph of a discussion is one line, which ArgumentParser
/// wraps to the terminal; a hard line break inside a sentence would be wrapped again and
/// leave a ragged stub. Example lines are indented and fit in 80 columns (HelpTextTests).
public struct Serve: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        abstract: "Run a device back end on a vhost-user socket.",
        subcommands: [ServeEntropy.self, ServeBlock.self, ServeConsole.self, ServeSwitch.self, ServeVsock.self, ServeGpu.self,
                      ServeInput.self, ServeSound.self, ServeFs.self, ServeGpio.self, ServeI2c.self, ServeScmi.self, ServeCrypto.self])
}
