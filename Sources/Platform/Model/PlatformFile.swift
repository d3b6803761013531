/// A platform file: the VMs of one machine, their devices and the policies that
/// hold for all of them. Decoded from YAML with Yams once `PlatformSchema` has
/// checked its shape (see `PlatformLoader`). Numbers are `WholeNumber` and
/// `MemorySize`, which read their text themselves: Yams' integer resolver can trap.
public struct PlatformFile: Codable, Sendable, Equatable {
    /// AVPS-v2.0-48: a production platform has no console of any kind.
    public enum Profile: String, Codable, Sendable, CaseIterable {
        case development, production
    }

    /// Names the platform (state directory, logs); defaults to the file's name.
    public var name: String?
    public var profile: Profile
    /// Device servers shared by several VMs, declared once and referenced by name.
    public var servers: [ServerSpec]?
    /// Virtual Ethernet switches ({AVPS-v2.0-15}); VM `net` devices attach to them by name.
    public var networks: [NetworkSpec]?
    /// The vsock policy: which VM pairs may connect to each other ({AVPS-v2.0-16}).
    public var vsock: VsockPolicySpec?
    public var vms: [VMSpec]
}

/// A virtual switch.
public struct NetworkSpec: Codable, Sendable, Equatable {
    public var name: String
    /// Default MTU of the interfaces on this network.
    public var mtu: WholeNumber?
}

/// VM pairs allowed to open vsock connections to each other (both directions).
public struct VsockPolicySpec: Codable, Sendable, Equatable {
    public var allow: [[String]]?
}

/// The kinds of device AVP serves.
public enum DeviceKind: String, Codable, Sendable, CaseIterable {
    case entropy, block, console, net, vsock
}

/// Options of a network interface.
public struct NetSpec: Codable, Sendable, Equatable {
    public var network: String?
    /// A fixed MAC; by default one is derived from the platform and VM names (stable across reboots).
    public var mac: String?
    public var mtu: WholeNumber?
    /// allow (default) or deny: may the guest use a MAC of its own (AVPS-v2.0-14, §2.7)?
    public var macChange: String?
    /// Further source MACs the guest may use under `deny`.
    public var allowedMACs: [String]?

    enum CodingKeys: String, CodingKey {
        case network, mac, mtu, macChange = "mac-change", allowedMACs = "allowed-macs"
    }
}

/// Options of a vsock device.
public struct VsockSpec: Codable, Sendable, Equatable {
    /// The guest's context ID (3 or more, unique on the platform).
    public var cid: WholeNumber?
}

/// Options of a block device, shared by private devices and shared servers.
public struct BlockSpec: Codable, Sendable, Equatable {
    public var image: String?
    public var readOnly: Bool?
    public var serial: String?
    public var queues: WholeNumber?
    public var cache: String?
    public var direct: Bool?

    enum CodingKeys: String, CodingKey {
        case image, readOnly = "read-only", serial, queues, cache, direct
    }
}

/// A shared device server.
public struct ServerSpec: Codable, Sendable, Equatable {
    public var name: String
    public var type: DeviceKind
    public var block: BlockSpec

    enum CodingKeys: String, CodingKey { case name, type }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(DeviceKind.self, forKey: .type)
        block = try BlockSpec(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(type, forKey: .type)
        try block.encode(to: encoder)
    }
}

/// A device of one VM: either served privately for it (options inline) or a
/// reference to a shared server (`server:`).
public struct DeviceSpec: Codable, Sendable, Equatable {
    public var type: DeviceKind
    public var server: String?
    public var block: BlockSpec
    public var net: NetSpec
    public var vsock: VsockSpec

    enum CodingKeys: String, CodingKey { case type, server }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(DeviceKind.self, forKey: .type)
        server = try c.decodeIfPresent(String.self, forKey: .server)
        block = try BlockSpec(from: decoder)
        net = try NetSpec(from: decoder)
        vsock = try VsockSpec(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(server, forKey: .server)
        try block.encode(to: encoder)
        try net.encode(to: encoder)
        try vsock.encode(to: encoder)
    }
}

/// One virtual machine.
public struct VMSpec: Codable, Sendable, Equatable {
    public enum RestartPolicy: String, Codable, Sendable, CaseIterable {
        /// Restart whenever the VM exits (a guest power-off included).
        case always
        /// Restart when QEMU fails or is killed, not after a clean power-off.
        case onFailure = "on-failure"
        /// Leave the VM down once it exits.
        case never
    }

    public var name: String
    /// q35 (virtio-pci) or microvm (virtio-mmio).
    public var machine: QemuCommandLine.Machine?
    public var cpus: WholeNumber?
    /// "512M", "1G" or a number of MiB.
    public var memory: MemorySize?
    /// A kernel image, or "default" for the guest image built by scripts/guest-image.
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    public var restart: RestartPolicy?
    public var devices: [DeviceSpec]?
}

extension QemuCommandLine.Machine: Codable {}
