import Devices
import Foundation

/// What `avp up` starts for a checked platform: device server processes (`avp serve
/// ...`), one QEMU per VM, and where each writes its socket and log in the state
/// directory. Pure data, so `avp up --dry-run` and the tests can inspect it.
public struct PlatformPlan: Sendable {
    public struct ServerLaunch: Sendable {
        public var name: String
        public var kind: DeviceKind
        /// Arguments after the `avp` executable.
        public var arguments: [String]
        /// Sockets the server listens on (waited for before the VMs start); vhost-user servers
        /// connect to their VMs' sockets instead and list none.
        public var sockets: [String]
        public var logPath: String
    }

    public struct VMLaunch: Sendable {
        public var name: String
        public var command: QemuCommandLine
        public var restart: VMSpec.RestartPolicy
        public var logPath: String
        public var serialLogPath: String?
        public var consoleLogPath: String?
        public var attachSocket: String?
        /// Servers this VM's devices depend on.
        public var servers: [String]
    }

    public var platform: Platform
    public var state: StateDirectory
    public var servers: [ServerLaunch] = []
    public var vms: [VMLaunch] = []

    public var stateDirectory: String { state.path }
    public var socketDirectory: String { state.socketDirectory }
    public var logDirectory: String { state.logDirectory }
    public var statusPath: String { state.statusPath }

    /// `$AVP_STATE_DIR/NAME`, else `/tmp/avp-UID/NAME` (short: sockets live there).
    public static func defaultStateDirectory(for platform: Platform) -> String {
        StateDirectory.default(for: platform).path
    }

    public init(platform: Platform, stateDirectory: String? = nil, qemu: String = "qemu-system-x86_64",
                accelerator: QemuCommandLine.Accelerator, qemuVersion: QemuVersion?) throws {
        self.platform = platform
        state = stateDirectory.map { StateDirectory(path: $0) } ?? .default(for: platform)
        let sockets = state.socketDirectory
        let logs = state.logDirectory
        let production = platform.profile == .production

        // Shared servers: one process, one socket per VM that uses it.
        var sharedSockets: [String: [String: String]] = [:]   // server → vm → socket
        for server in platform.servers {
            var perVM: [String: String] = [:]
            for vm in platform.vms where vm.devices.contains(where: { $0.server == server.name }) {
                perVM[vm.name] = "\(sockets)/\(server.name)-\(vm.name).sock"
            }
            sharedSockets[server.name] = perVM
            guard !perVM.isEmpty else { continue }
            let list = platform.vms.compactMap { perVM[$0.name] }
            servers.append(ServerLaunch(name: server.name, kind: server.kind,
                                        arguments: Self.serveArguments(server.kind, block: server.block, sockets: list),
                                        sockets: [], logPath: "\(logs)/server-\(server.name).log"))
        }

        // One switch process per network, one vsock process for the platform: every VM
        // interface or vsock device is a port of it, with its own socket.
        var switchPorts: [String: [String]] = [:]   // network → --port specifications
        var vsockVMs: [String] = []
        for vm in platform.vms {
            for (index, device) in vm.devices.enumerated() {
                if device.kind == .net, let network = device.network, let policy = device.net {
                    var port = "name=\(policy.name),connect=\(sockets)/\(network)-\(vm.name)-\(index).sock,mac=\(policy.mac),mtu=\(policy.mtu),mac-change=\(policy.macChange.rawValue)"
                    if !policy.extraMACs.isEmpty { port += ",allow=" + policy.extraMACs.map(\.description).joined(separator: "+") }
                    switchPorts[network, default: []].append(port)
                }
                if device.kind == .vsock, let cid = device.cid {
                    vsockVMs.append("name=\(vm.name),cid=\(cid),connect=\(sockets)/vsock-\(vm.name).sock,uds=\(sockets)/\(vm.name).vsock")
                }
            }
        }
        for network in platform.networks {
            guard let ports = switchPorts[network.name] else { continue }
            servers.append(ServerLaunch(name: "switch-\(network.name)", kind: .net,
                                        arguments: ["serve", "switch", "--stats", "\(logs)/switch-\(network.name).json"] + ports.flatMap { ["--port", $0] },
                                        sockets: [], logPath: "\(logs)/server-switch-\(network.name).log"))
        }
        if !vsockVMs.isEmpty {
            servers.append(ServerLaunch(name: "vsock", kind: .vsock,
                                        arguments: ["serve", "vsock"] + vsockVMs.flatMap { ["--vm", $0] }
                                            + platform.vsockPairs.flatMap { ["--allow", $0.joined(separator: ":")] },
                                        sockets: [], logPath: "\(logs)/server-vsock.log"))
        }

        for vm in platform.vms {
            var command = QemuCommandLine(kernel: vm.kernel, initrd: vm.initrd)
            command.qemu = qemu
            command.machine = vm.machine
            command.accelerator = accelerator
            command.memoryMiB = vm.memoryMiB
            command.cpus = vm.cpus
            command.tscKHz = HostCPU.tscKHz()
            command.reconnect = qemuVersion?.reconnectOption ?? "reconnect-ms=500"
            command.vhostUserServerMode = true
            command.kernelArguments = vm.cmdline.split(separator: " ").map(String.init)
            var launch = VMLaunch(name: vm.name, command: command, restart: vm.restart,
                                  logPath: "\(logs)/vm-\(vm.name).log", servers: [])
            if production {
                launch.command.serial = .none
            } else {
                launch.serialLogPath = "\(logs)/vm-\(vm.name).serial.log"
                launch.command.serial = .file(launch.serialLogPath!)
            }
            for (index, device) in vm.devices.enumerated() {
                let id = "\(device.kind.rawValue)\(index)"
                if let shared = device.server, let socket = sharedSockets[shared]?[vm.name] {
                    launch.servers.append(shared)
                    launch.command.vhostUserDevices.append(.init(kind: Self.vhostKind(device.kind, block: platform.servers.first { $0.name == shared }?.block),
                                                                 socketPath: socket, id: id))
                    continue
                }
                let serverName = "\(vm.name)-\(id)"
                let socket = "\(sockets)/\(serverName).sock"
                launch.servers.append(serverName)
                switch device.kind {
                case .net:
                    guard let network = device.network, let policy = device.net else { continue }
                    launch.servers.removeLast()
                    launch.servers.append("switch-\(network)")
                    launch.command.vhostUserDevices.append(.init(kind: .net(mac: policy.mac.description, mtu: policy.mtu),
                                                                 socketPath: "\(sockets)/\(network)-\(vm.name)-\(index).sock", id: id))
                case .vsock:
                    launch.servers.removeLast()
                    launch.servers.append("vsock")
                    launch.command.vhostUserDevices.append(.init(kind: .vsock, socketPath: "\(sockets)/vsock-\(vm.name).sock", id: id))
                case .console:
                    let attach = "\(sockets)/\(vm.name).console"
                    let log = "\(logs)/vm-\(vm.name).console.log"
                    launch.command.consoleSocket = socket
                    launch.consoleLogPath = log
                    launch.attachSocket = attach
                    servers.append(ServerLaunch(name: serverName, kind: .console,
                                                arguments: ["serve", "console", "--socket", socket, "--attach", attach, "--log", log],
                                                sockets: [socket, attach], logPath: "\(logs)/server-\(serverName).log"))
                case .entropy, .block:
                    servers.append(ServerLaunch(name: serverName, kind: device.kind,
                                                arguments: Self.serveArguments(device.kind, block: device.block, sockets: [socket]),
                                                sockets: [], logPath: "\(logs)/server-\(serverName).log"))
                    launch.command.vhostUserDevices.append(.init(kind: Self.vhostKind(device.kind, block: device.block), socketPath: socket, id: id))
                }
            }
            if production { try ProductionLockdown.verify(launch.command.arguments) }
            vms.append(launch)
        }
    }

    static func vhostKind(_ kind: DeviceKind, block: BlockDeviceOptions?) -> QemuCommandLine.VhostUserDevice.Kind {
        kind == .block ? .block(queues: block?.queueCount ?? 1) : .rng
    }

    static func serveArguments(_ kind: DeviceKind, block: BlockDeviceOptions?, sockets: [String]) -> [String] {
        // The VMs listen (QEMU server=on,wait=on); the server connects, and reconnects after a restart.
        var a = ["serve", kind.rawValue] + sockets.flatMap { ["--connect", $0] }
        if kind == .block, let b = block {
            a += ["--file", b.imagePath, "--queues", String(b.queueCount), "--cache", b.cache.rawValue]
            if b.readOnly { a.append("--read-only") }
            if b.direct { a.append("--direct") }
            if !b.serial.isEmpty { a += ["--serial", b.serial] }
        }
        return a
    }
}
