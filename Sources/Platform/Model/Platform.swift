import Devices

/// A checked platform with every default applied and every path resolved: what
/// `avp up`, `avp describe` and the tests work from.
public struct Platform: Sendable {
    /// A device server declared under `servers:`, used by every VM that refers to it.
    public struct Server: Sendable {
        public var name: String
        public var kind: DeviceKind
        /// The kind's resolved settings (its definition's `Settings`).
        public var settings: any Sendable
    }

    /// One device of a VM.
    public enum Device: Sendable {
        /// Served for this VM alone, with its kind's resolved settings.
        case own(DeviceKind, settings: any Sendable)
        /// A VM's device on a shared server (whose settings it uses).
        case shared(DeviceKind, server: String)

        public var kind: DeviceKind {
            switch self {
            case let .own(kind, _), let .shared(kind, _): kind
            }
        }

        /// The shared server's name, or nil for a device served for this VM alone.
        public var server: String? {
            if case let .shared(_, server) = self { return server }
            return nil
        }

        /// The device's settings if it is its own device of `definition`'s kind.
        func settings<Kind: DeviceKindDefinition>(of definition: Kind.Type) -> Kind.Settings? {
            guard case let .own(kind, settings) = self, kind == Kind.kind else { return nil }
            return Kind.typed(settings)
        }
    }

    /// A display and the VM scanouts composed onto it, bottom to top.
    public struct Display: Sendable {
        public var name: String
        public var mode: DisplayMode
        public var layers: [Layer]
    }

    /// A layer as the compositor takes it (its source is the VM and which of its scanouts:
    /// its layers in platform-file order, counted per VM), and the mode that scanout gets.
    public struct Layer: Sendable {
        public var policy: LayerPolicy
        /// The scanout's mode: the layer's size, with the display's pixel density.
        public var mode: DisplayMode
        /// The absolute path of the layer's mask image (`MaskImage`), or nil. The GPU server reads
        /// it (`policy.mask` stays nil here); `avp check` has read it when files were checked.
        public var mask: String?
    }

    public struct Network: Sendable {
        public var name: String
        public var mtu: Int
    }

    public struct VM: Sendable {
        public var name: String
        public var machine: QemuCommandLine.Machine
        public var cpus: Int
        public var memoryMiB: Int
        public var kernel: String
        public var initrd: String
        public var cmdline: String
        public var restart: VMSpec.RestartPolicy
        public var devices: [Device]
        /// The supervised watchdog ({AVPS-v2.0-35}), if the VM has one.
        public var watchdog: Watchdog? = nil
        /// `-kernel`, or through UEFI firmware from a boot disk AVP writes before every boot.
        public var boot: VMSpec.BootMethod = .kernel

        public var hasConsole: Bool { devices.contains { $0.kind == .console } }
        /// x86_64 or aarch64: what the machine type implies.
        public var arch: VMSpec.Architecture { machine.architecture }
    }

    public var name: String
    public var profile: PlatformFile.Profile
    /// Absolute path of the platform file.
    public var path: String
    public var servers: [Server]
    public var networks: [Network] = []
    /// VM name pairs allowed to open vsock connections to each other.
    public var vsockPairs: [[String]] = []
    /// Displays and their layers, each layer one scanout of a VM's GPU.
    public var displays: [Display] = []
    /// The host's audio policy, output and input (AVPS §2.9).
    public var audio = Audio()
    public var vms: [VM]

    public func vm(named name: String) -> VM? { vms.first { $0.name == name } }

    /// A device's settings: its own, or its shared server's.
    func settings(of device: Device) -> (any Sendable)? {
        switch device {
        case let .own(_, settings): settings
        case let .shared(_, server): servers.first { $0.name == server }?.settings
        }
    }

    /// The server process behind a VM's device (the plan starts it; the device tree names it).
    public func serverName(of device: Device, in vm: VM, at index: Int) -> String? {
        settings(of: device).flatMap {
            device.kind.definition.serverName(vm: vm.name, index: index, settings: $0, server: device.server)
        }
    }
}
