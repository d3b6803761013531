import ArgumentParser
import Virtio
import ServerCommands

/// virtio-crypto ({AVPS-v2.0-45}, VIRTIO 1.2 §5.9): QEMU's own virtio-crypto model keeps the
/// control queue and forwards each session to `avp serve crypto` (cryptodev-vhost-user), which
/// serves the data queue with the host's libcrypto. A server per device or one shared by
/// several VMs (then `max-sessions` is the server's): each VM has its own session table, which
/// holds at most `max-sessions`.
enum CryptoKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var maxSessions: Int
    }

    static let kind = DeviceKind.crypto
    static let virtioID = VirtioDeviceType.crypto
    static let maxSessions = OptionKey<WholeNumber>("max-sessions", .integer(
        "The most sessions each VM may hold open at once (crypto); creating one more fails in the guest. Default \(CryptoServeOptions.defaultMaxSessions).",
        range: PlatformLimits.cryptoSessions))
    static let options: [any DeviceOption] = [maxSessions]
    static let sharedServers = SharedServers.allowed
    static let perVM = PerVMRule(limit: 1, noun: "a crypto device")

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        Settings(maxSessions: options[maxSessions].map { Int($0.value) } ?? CryptoServeOptions.defaultMaxSessions)
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.defaultServerName(kind) }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let name = serverName(slot)
        let socket = slot.sharedServer.map { plan.socket("\($0)-\(slot.vm)") } ?? plan.socket(name)
        let limit = slot.settings.maxSessions
        plan.server(name, kind: kind, create: { CryptoServeOptions(endpoints: ServeEndpoints(socket: [], connect: []), maxSessions: limit) }) {
            $0.endpoints.connect.append(socket)
        }
        plan.vm.command.vhostUserDevices.append(.init(model: .crypto, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,max-sessions", .cells([UInt32(settings.maxSessions)]))]
    }
}

extension QemuDeviceModel {
    /// QEMU's virtio-crypto on a cryptodev-vhost-user back end (`-object`), one data queue.
    public static let crypto = QemuDeviceModel(pci: "virtio-crypto-pci", mmio: "virtio-crypto-device", attachment: .cryptodev)
}
