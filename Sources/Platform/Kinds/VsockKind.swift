import Virtio
import ServerCommands

/// virtio-vsock ({AVPS-v2.0-16}): one `avp serve vsock` for the platform, a device per
/// VM with its CID; VM pairs under `vsock: allow:` may connect, host processes reach
/// guests through `sockets/VM.vsock`.
enum VsockKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var cid: UInt64
    }

    static let kind = DeviceKind.vsock
    static let virtioID = VirtioDeviceType.vsock
    static let cid = OptionKey<WholeNumber>("cid", .integer("The guest's vsock context ID, unique on the platform (0 to 2 and 4294967295 are reserved).",
                                                            range: PlatformLimits.vsockCIDs))
    static let options: [any DeviceOption] = [cid]
    static let sharedServers = SharedServers.refused(reason: "vsock is served for the whole platform; it is not a shared server",
                                             fix: "give each VM '- type: vsock' with its cid, and list allowed pairs under 'vsock: allow:'")
    static let perVM = PerVMRule(limit: 1, noun: "a vsock device")

    static func resolve(_ given: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard let number = given[cid], let value = UInt64(exactly: number.value) else {
            rules.error(nil, "a vsock device needs its guest's cid", fix: "add 'cid: 3' (3 or more, unique)")
            return nil
        }
        if let other = rules.claim(String(value), in: "cid") {
            rules.error(cid.name, "cid \(value) is already used by \(other)", fix: "give each VM its own cid")
        }
        return Settings(cid: value)
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { "vsock" }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let socket = plan.socket("vsock-\(slot.vm)")
        let vm = VsockVMOption(name: slot.vm, cid: slot.settings.cid, endpoint: .connect(socket),
                               hostSocket: "\(plan.state.socketDirectory)/\(slot.vm).vsock")
        let pairs = plan.platform.vsockPairs
        plan.server(serverName(slot), kind: kind, create: { VsockServeOptions(vms: [], allow: pairs) }) { $0.vm.append(vm) }
        plan.vm.command.vhostUserDevices.append(.init(model: .vsock, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,cid", .u64(settings.cid))]
    }
}

extension Platform.Device {
    /// A vsock device's guest CID (nil for other kinds).
    public var cid: UInt64? { settings(of: VsockKind.self)?.cid }
}

extension QemuDeviceModel {
    public static let vsock = QemuDeviceModel(pci: "vhost-user-vsock-pci", mmio: "vhost-user-vsock-device")
}
