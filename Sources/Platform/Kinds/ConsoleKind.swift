import ArgumentParser
import Virtio
import ServerCommands

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
