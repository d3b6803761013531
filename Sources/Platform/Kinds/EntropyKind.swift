import ArgumentParser
import Virtio
import ServerCommands

/// virtio-rng ({AVPS-v2.0-40}, {AVPS-v2.0-41}): no options; a server per device or one
/// shared by several VMs.
enum EntropyKind: DeviceKindDefinition {
    struct Settings: Sendable {}

    static let kind = DeviceKind.entropy
    static let virtioID = VirtioDeviceType.entropy
    static let options: [any DeviceOption] = []
    static let sharedServers = SharedServers.allowed
    static let perVM = PerVMRule.any

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? { Settings() }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.defaultServerName(kind) }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        plan.vhostUserDevice(slot, kind: kind, model: .rng) { EntropyServeOptions(endpoints: ServeEndpoints(socket: [], connect: [])) }
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] { [] }
}

extension QemuDeviceModel {
    public static let rng = QemuDeviceModel(pci: "vhost-user-rng-pci", mmio: "vhost-user-rng")
}
