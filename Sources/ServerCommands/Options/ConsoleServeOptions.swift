import ArgumentParser

/// `avp serve console`: the host side of one VM's console.
public struct ConsoleServeOptions: ServeOptions {
    public static let command = "console"

    @Option(help: "Socket the VMM's console chardev connects to.") public var socket: String
    @Option(help: "Socket interactive clients attach to.") public var attach: String
    @Option(help: "Log file that receives all console output.") public var log: String
    @Option(help: ArgumentHelp("Also serve AVP's own virtio-console device (multiport, console on port 0) on this "
        + "vhost-user socket, for VMMs with a vhost-user console front end; its stream goes to the same log and clients.",
                               valueName: "socket"))
    public var vhostUser: String?

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(socket: String, attach: String, log: String, vhostUser: String?) {
        self = .with {
            $0.sandbox = .namespace
            $0.socket = socket
            $0.attach = attach
            $0.log = log
            $0.vhostUser = vhostUser
        }
    }

    public var arguments: [String] {
        ["--socket", socket, "--attach", attach, "--log", log] + (vhostUser.map { ["--vhost-user", $0] } ?? []) + sandbox.arguments
    }
}
