import Devices
import Virtio
import ServerCommands

/// virtio-gpu 2D ({AVPS-v2.0-17} to {AVPS-v2.0-22}): one `avp serve gpu` for the platform,
/// a device per VM whose scanouts are the layers naming that VM under `displays:` (or one
/// default output when none does), composed onto the displays ({AVPS-v2.0-27} to 29).
enum GpuKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var outputs: [DisplayMode]
    }

    static let kind = DeviceKind.gpu
    static let virtioID = VirtioDeviceType.gpu
    static let options: [any DeviceOption] = []
    static let sharedServers = SharedServers.refused(reason: "the GPU is served for the whole platform; it is not a shared server",
                                                     fix: "give each VM '- type: gpu' and place its scanouts under 'displays:'")
    static let perVM = PerVMRule(limit: 1, noun: "a gpu device", guestFlavour: .backports)

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case let .vm(vm, _) = rules.user else { return nil }
        return Settings(outputs: rules.scanouts[vm] ?? [.standard])
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { "gpu" }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let socket = plan.socket("gpu-\(slot.vm)")
        let vm = VMEndpointOption(name: slot.vm, endpoint: .connect(socket))
        let scanouts = slot.settings.outputs.map { GpuNamedOutput.scanout(vm: slot.vm, mode: $0) }
        let platform = plan.platform
        let state = plan.state
        let composing = !platform.displays.isEmpty
        let web = plan.webViewPort.flatMap { composing ? (port: $0, urlFile: state.webViewURLPath) : nil }
        plan.server(serverName(slot), kind: kind, create: {
            GpuServeOptions(vms: [], scanouts: [],
                            displays: platform.displays.map { GpuNamedOutput.display(name: $0.name, mode: $0.mode) },
                            layers: platform.displays.flatMap { d in d.layers.map { GpuLayerOption(display: d.name, layer: $0.policy, mask: $0.mask) } },
                            stats: composing ? "\(state.logDirectory)/gpu.json" : nil, snapshots: state.logDirectory,
                            web: web, control: composing ? state.displayControlSocket : nil)
        }) {
            $0.vm.append(vm)
            $0.scanout += scanouts
            // The web view's touches on this VM's layers go to its touchscreen, if it has one.
            if web != nil, platform.vms.first(where: { $0.name == slot.vm })?.devices.contains(where: { $0.kind == .input }) == true {
                $0.touch.append(GpuTouchOption(vm: slot.vm, events: state.touchEventsSocket(vm: slot.vm)))
            }
        }
        plan.restartingVMs(withServer: serverName(slot), because: "QEMU's vhost-user-gpu does not reconnect to a restarted back end")
        plan.vm.command.vhostUserDevices.append(.init(model: .gpu, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,outputs", .strings(settings.outputs.map(\.description)))]
    }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-gpu (no VGA): the scanouts reach QEMU's display through the socket it hands over.
    public static let gpu = QemuDeviceModel(pci: "vhost-user-gpu-pci", mmio: "vhost-user-gpu")
}

extension StateDirectory {
    /// The GPU server's control socket (`avp display`).
    public var displayControlSocket: String { socketDirectory + "/gpu-control.sock" }
    /// The address of the GPU server's web view, written by the server once it listens.
    public var webViewURLPath: String { path + "/web-view.url" }
}
