import Foundation
import ServerCommands

/// What `avp up` starts for a checked platform: device server processes (`avp serve
/// ...`), one QEMU per VM, and where each writes its socket and log in the state
/// directory. Pure data, so `avp up --dry-run` and the tests can inspect it. Each
/// device's kind adds its server and QEMU device (`DeviceKindDefinition.plan`).
public struct PlatformPlan: Sendable {
    public struct ServerLaunch: Sendable {
        public var name: String
        public var kind: DeviceKind
        /// The server's typed options; `arguments` is what they encode.
        public var options: any ServeOptions
        /// Sockets the server listens on (waited for before the VMs start); vhost-user servers
        /// connect to their VMs' sockets instead and list none.
        public var sockets: [String]
        public var logPath: String
        /// What a restart of this server means for its VMs: QEMU reconnects to most device
        /// servers, but not to every one (its vhost-user-gpu cannot), and those VMs are
        /// restarted with the server.
        public var onRestart: RestartEffect = .frontEndsReconnect

        /// Arguments after the `avp` executable.
        public var arguments: [String] { options.commandLine }
    }

    public enum RestartEffect: Sendable, Equatable {
        case frontEndsReconnect
        /// The VMs depending on the server are restarted; the reason is logged.
        case restartsVMs(reason: String)
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
        /// The VM's watchdog policy; its QMP socket is `command.watchdog`'s.
        public var watchdog: Platform.Watchdog? = nil
        /// Macvtaps `avp up` creates for the VM; QEMU inherits each one's tap at its `fd`.
        public var macvtaps: [Macvtap] = []
    }

    /// A disk image `avp up` creates when it does not exist (`size:` of a block device).
    public struct ImageToCreate: Sendable, Equatable {
        public var path: String
        public var mebibytes: Int
    }

    public var platform: Platform
    public var state: StateDirectory
    public var servers: [ServerLaunch] = []
    public var vms: [VMLaunch] = []
    public var images: [ImageToCreate] = []

    public var stateDirectory: String { state.path }
    public var socketDirectory: String { state.socketDirectory }
    public var logDirectory: String { state.logDirectory }
    public var statusPath: String { state.statusPath }

    /// `$AVP_STATE_DIR/NAME`, else `/tmp/avp-UID/NAME` (short: sockets live there).
    public static func defaultStateDirectory(for platform: Platform) -> String {
        StateDirectory.default(for: platform).path
    }

    /// `webViewPort`: where the GPU server serves the live view of the displays on 127.0.0.1
    /// (0: any free port, nil: no web view); only platforms with displays have one.
    /// The device tree an aarch64 VM boots with: AVP writes it here before every boot (`ArmVirtHardware`).
    public static func deviceTreePath(vm: String, in state: StateDirectory) -> String { "\(state.path)/vm-\(vm).dtb" }

    /// `aarch64Qemu` runs the aarch64 (virt) VMs, with `armAccelerator` (TCG on an x86 host).
    public init(platform: Platform, stateDirectory: String? = nil, qemu: String = "qemu-system-x86_64",
                accelerator: QemuCommandLine.Accelerator, qemuVersion: QemuVersion?, webViewPort: UInt16? = 0,
                aarch64Qemu: String = "qemu-system-aarch64", armAccelerator: QemuCommandLine.Accelerator = AcceleratorProbe.chooseForArm()) throws {
        self.platform = platform
        state = stateDirectory.map { StateDirectory(path: $0) } ?? .default(for: platform)
        let production = platform.profile == .production
        for vm in platform.vms {
            var command = QemuCommandLine(kernel: vm.kernel, initrd: vm.initrd)
            command.qemu = vm.machine == .virt ? aarch64Qemu : qemu
            command.machine = vm.machine
            command.accelerator = vm.machine == .virt ? armAccelerator : accelerator
            if vm.machine == .virt { command.dtb = Self.deviceTreePath(vm: vm.name, in: state) }
            if vm.machine == .virt, vm.boot == .uefi {
                // The variables persist across the VM's boots in its own copy of edk2's store.
                command.uefi = .init(disk: "\(state.path)/vm-\(vm.name).esp.img", variables: .persistent(path: "\(state.path)/vm-\(vm.name).vars.fd"),
                                     firmwareRNG: !vm.devices.contains { $0.kind == .entropy })
            }
            command.memoryMiB = vm.memoryMiB
            command.cpus = vm.cpus
            command.tscKHz = HostCPU.tscKHz()
            command.reconnect = qemuVersion?.reconnectOption ?? "reconnect-ms=500"
            command.vhostUserServerMode = true
            // The guest's init makes the VM's name its hostname (scripts/guest-image).
            command.kernelArguments = ["avp.name=\(vm.name)"] + vm.cmdline.split(separator: " ").map(String.init)
            var launch = VMLaunch(name: vm.name, command: command, restart: vm.restart, logPath: "\(state.logDirectory)/vm-\(vm.name).log", servers: [])
            if let watchdog = vm.watchdog {
                launch.watchdog = watchdog
                launch.command.watchdog = QemuWatchdog(heartbeatSeconds: watchdog.timeoutSeconds, qmpSocket: "\(state.socketDirectory)/vm-\(vm.name).qmp")
            }
            if production {
                launch.command.serial = .none
            } else {
                let serialLog = "\(state.logDirectory)/vm-\(vm.name).serial.log"
                launch.serialLogPath = serialLog
                launch.command.serial = .file(serialLog)
            }
            var builder = PlanBuilder(platform: platform, state: state, vm: launch, servers: servers, images: images, webViewPort: webViewPort)
            for (index, device) in vm.devices.enumerated() {
                guard let settings = platform.settings(of: device) else { continue }
                device.kind.definition.plan(vm: vm.name, index: index, settings: settings, server: device.server, into: &builder)
            }
            servers = builder.servers
            images = builder.images
            if production { try ProductionLockdown.verify(builder.vm.command.arguments) }
            vms.append(builder.vm)
        }
    }

    /// Creates every missing image of `images` as a sparse file of its size; an existing
    /// file is never touched (O_EXCL), whatever its size.
    public func createMissingImages() throws {
        for image in images {
            let fd = open(image.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0, errno == EEXIST { continue }
            guard fd >= 0 else { throw PlatformError.launchFailed("cannot create image \(image.path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            guard ftruncate(fd, off_t(image.mebibytes) << 20) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(image.path)
                throw PlatformError.launchFailed("cannot size image \(image.path) to \(image.mebibytes) MiB: \(reason)")
            }
        }
    }
}
