import ServerCommands

/// What a kind's `plan` adds to: the platform's servers (each with its typed options)
/// and the QEMU command line of the VM being planned.
struct PlanBuilder {
    let platform: Platform
    let state: StateDirectory
    /// The web view's port on 127.0.0.1 (0: any free one), or nil for none.
    let webViewPort: UInt16?
    private(set) var servers: [PlatformPlan.ServerLaunch]
    private(set) var images: [PlatformPlan.ImageToCreate]
    /// The VM whose devices are being planned.
    var vm: PlatformPlan.VMLaunch

    init(platform: Platform, state: StateDirectory, vm: PlatformPlan.VMLaunch, servers: [PlatformPlan.ServerLaunch],
         images: [PlatformPlan.ImageToCreate], webViewPort: UInt16?) {
        self.platform = platform
        self.state = state
        self.webViewPort = webViewPort
        self.vm = vm
        self.servers = servers
        self.images = images
    }

    /// An image `avp up` creates with `mebibytes` when it does not exist.
    mutating func createImage(_ path: String, mebibytes: Int) {
        let image = PlatformPlan.ImageToCreate(path: path, mebibytes: mebibytes)
        if !images.contains(image) { images.append(image) }
    }

    /// `sockets/NAME.sock` in the state directory.
    func socket(_ name: String) -> String { "\(state.socketDirectory)/\(name).sock" }
    func log(_ name: String) -> String { "\(state.logDirectory)/\(name)" }

    /// The server `name`, created from `create()` when the platform has none by that name
    /// yet, then changed by `update`; the VM being planned depends on it.
    mutating func server<Options: ServeOptions>(_ name: String, kind: DeviceKind, listening sockets: [String] = [],
                                                create: () -> Options, update: (inout Options) -> Void = { _ in }) {
        if !vm.servers.contains(name) { vm.servers.append(name) }
        let index: Int
        if let existing = servers.firstIndex(where: { $0.name == name }) {
            index = existing
        } else {
            servers.append(.init(name: name, kind: kind, options: create(), sockets: sockets, logPath: log("server-\(name).log")))
            index = servers.count - 1
        }
        // PlatformRules.checkServerNames gives every server name to one kind and one server.
        guard var options = servers[index].options as? Options else {
            preconditionFailure("server '\(name)' planned for two kinds (\(servers[index].kind), \(kind))")
        }
        update(&options)
        servers[index].options = options
    }

    /// Marks server `name` as one whose front ends cannot reconnect (see `RestartEffect`).
    mutating func restartingVMs(withServer name: String, because reason: String) {
        guard let index = servers.firstIndex(where: { $0.name == name }) else { return }
        servers[index].onRestart = .restartsVMs(reason: reason)
    }

    /// Host hardware for the VM, in its place among the vhost-user devices ({AVPS-v2.0-9}, {AVPS-v2.0-33}).
    mutating func hostDevice(_ backing: QemuHostDevice.Backing, id: String) {
        vm.command.hostDevices.append(.init(backing: backing, id: id, position: vm.command.vhostUserDevices.count))
    }

    /// A macvtap `avp up` creates on `parent` and whose tap QEMU inherits: returns its descriptor number.
    mutating func macvtap(parent: String, mac: String, index: Int) -> Int32 {
        let fd = Macvtap.firstDescriptor + Int32(vm.macvtaps.count)
        vm.macvtaps.append(Macvtap(name: Macvtap.name(platform: platform.name, vm: vm.name, index: index), parent: parent, mac: mac, fd: fd))
        return fd
    }

    /// A vhost-user device whose server connects to the VM's socket: a server for this
    /// device alone, or the shared server it refers to (one socket per VM, one process).
    mutating func vhostUserDevice<Options: EndpointServeOptions>(_ slot: DeviceSlot<some Sendable>, kind: DeviceKind,
                                                                 model: QemuDeviceModel, create: () -> Options) {
        let name = slot.defaultServerName(kind)
        let socket = slot.sharedServer.map { self.socket("\($0)-\(slot.vm)") } ?? self.socket(name)
        server(name, kind: kind, create: create) { $0.endpoints.connect.append(socket) }
        vm.command.vhostUserDevices.append(.init(model: model, socketPath: socket, id: slot.id(kind)))
    }
}
