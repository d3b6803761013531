import Devices

/// A checked platform with every default applied and every path resolved: what
/// `avp up`, `avp describe` and the tests work from.
public struct Platform: Sendable {
    public struct Server: Sendable {
        public var name: String
        public var kind: DeviceKind
        public var block: BlockDeviceOptions?
    }

    public struct Device: Sendable {
        public var kind: DeviceKind
        /// A shared server's name, or nil for a device served for this VM alone.
        public var server: String?
        public var block: BlockDeviceOptions?
        public var net: NetPortPolicy? = nil
        /// The network a net device attaches to.
        public var network: String? = nil
        /// A vsock device's guest CID.
        public var cid: UInt64? = nil
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

        public var hasConsole: Bool { devices.contains { $0.kind == .console } }
    }

    public var name: String
    public var profile: PlatformFile.Profile
    /// Absolute path of the platform file.
    public var path: String
    public var servers: [Server]
    public var networks: [Network] = []
    /// VM name pairs allowed to open vsock connections to each other.
    public var vsockPairs: [[String]] = []
    public var vms: [VM]

    public func vm(named name: String) -> VM? { vms.first { $0.name == name } }
}
