import Devices
import Virtio
import ServerCommands

/// AVP's touchscreen (virtio-input, VIRTIO 1.2 §5.8): one `avp serve input` per VM, the size of
/// the VM's first scanout (its first layer under `displays:`), else 1920x1080 — a VM's GPU
/// without layers has that one output too. The host writes touches in those pixels to the
/// server's events socket, `sockets/input-VM.events` in the state directory.
enum InputKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var size: TouchscreenSize
        var name: String
    }

    static let kind = DeviceKind.input
    static let virtioID = VirtioDeviceType.input
    static let name = OptionKey<String>("name", .string("The device name the guest shows (1 to 63 printable ASCII characters).",
                                                        pattern: InputServeOptions.namePattern))
    static let options: [any DeviceOption] = [name]
    static let sharedServers = SharedServers.refused(reason: "a touchscreen belongs to one VM's display and cannot be shared",
                                                     fix: "add '- type: input' to the VM's devices instead")
    static let perVM = PerVMRule(limit: 1, noun: "an input device")

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case let .vm(vm, _) = rules.user else { return nil }
        let mode = rules.scanouts[vm]?.first ?? .standard
        let deviceName = options[name] ?? Touchscreen.defaultName
        guard InputServeOptions.isValidName(deviceName) else {
            rules.error(name.name, "name \(UserText.quoted(deviceName)) is not 1 to 63 printable ASCII characters",
                        fix: "use a plain name such as 'cluster touch'")
            return nil
        }
        return Settings(size: TouchscreenSize(width: mode.width, height: mode.height), name: deviceName)
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.defaultServerName(kind) }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let server = serverName(slot)
        let socket = plan.socket(server)
        let events = plan.state.touchEventsSocket(vm: slot.vm)
        let settings = slot.settings
        plan.server(server, kind: kind, listening: [events]) {
            InputServeOptions(endpoints: ServeEndpoints(socket: [], connect: [socket]), size: settings.size, name: settings.name,
                              eventsSocket: events)
        }
        plan.vm.command.vhostUserDevices.append(.init(model: .input, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,size", .string(settings.size.description)), ("avp,name", .string(settings.name))]
    }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-input (a vhost-user-base device since QEMU 9: configuration space through
    /// VHOST_USER_PROTOCOL_F_CONFIG, two queues of four buffers).
    public static let input = QemuDeviceModel(pci: "vhost-user-input-pci", mmio: "vhost-user-input")
}

extension StateDirectory {
    /// Where the host writes a VM's touches (`TouchLine`s) for `avp serve input`.
    public func touchEventsSocket(vm: String) -> String { socketDirectory + "/input-\(vm).events" }
}
