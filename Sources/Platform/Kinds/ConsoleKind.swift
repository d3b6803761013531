import ArgumentParser
import Virtio

/// A VM's text console ({AVPS-v2.0-46} to {AVPS-v2.0-49}): QEMU's virtio-serial with a
/// console on port 0 (the guest's hvc0), whose stream AVP's console hub logs and lets
/// `avp console` attach to. None in the production profile ({AVPS-v2.0-48}).
enum ConsoleKind: DeviceKindDefinition {
    struct Settings: Sendable {}

    static let kind = DeviceKind.console
    static let virtioID = VirtioDeviceType.console
    static let options: [any DeviceOption] = []
    static let sharedServers = SharedServers.refused(reason: "a console serves one VM and cannot be shared",
                                             fix: "add '- type: console' to the VM's devices instead")
    static let perVM = PerVMRule(limit: 1, noun: "a console",
                                 refusedInProduction: "the production profile allows no console of any kind (AVPS-v2.0-48)",
                                 placedLast: true)

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? { Settings() }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.defaultServerName(kind) }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let name = serverName(slot)
        let socket = plan.socket(name)
        let attach = "\(plan.state.socketDirectory)/\(slot.vm).console"
        let log = plan.log("vm-\(slot.vm).console.log")
        plan.vm.command.consoleSocket = socket
        plan.vm.consoleLogPath = log
        plan.vm.attachSocket = attach
        plan.server(name, kind: kind, listening: [socket, attach]) {
            ConsoleServeOptions(socket: socket, attach: attach, log: log, vhostUser: nil)
        }
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] { [] }
}

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
