import ServerCommands

/// A platform file: the VMs of one machine, their devices and the policies that
/// hold for all of them. Decoded from YAML with Yams once `PlatformSchema` has
/// checked its shape (see `PlatformLoader`). Numbers are `WholeNumber` and
/// `MemorySize`, which read their text themselves: Yams' integer resolver can trap.
public struct PlatformFile: Decodable, Sendable, Equatable {
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
    /// Displays and what each shows of the VMs' GPUs ({AVPS-v2.0-27} to {AVPS-v2.0-29}).
    public var displays: [DisplaySpec]?
    /// The host's audio policy (AVPS §2.9): output, input, roles and ducking rules.
    public var audio: AudioSpec?
    public var vms: [VMSpec]
}

/// The `audio:` section: where the mix of every VM's sound card plays, what the guests
/// record, the roles streams play and which roles duck which.
public struct AudioSpec: Decodable, Sendable, Equatable {
    /// `wav` (the default: `logs/audio.wav` in the state directory), `none`, or `alsa:DEVICE`.
    public var output: String?
    /// `silence` (the default), `tone:HZ`, or `alsa:DEVICE`.
    public var input: String?
    /// The standard media, navigation, phone and chime when absent.
    public var roles: [AudioRoleSpec]?
    public var ducking: [DuckingSpec]?
}

public struct AudioRoleSpec: Decodable, Sendable, Equatable {
    public var name: String
    public var priority: WholeNumber
    public var safety: Bool?
}

public struct DuckingSpec: Decodable, Sendable, Equatable {
    public var when: String
    public var duck: String
    /// Attenuation in dB.
    public var by: WholeNumber
    /// Milliseconds.
    public var attack: WholeNumber?
    public var release: WholeNumber?
}

/// A virtual switch.
public struct NetworkSpec: Codable, Sendable, Equatable {
    public var name: String
    /// Default MTU of the interfaces on this network.
    public var mtu: WholeNumber?
}

/// A physical display: its mode and size, and the VM scanouts composed onto it.
public struct DisplaySpec: Decodable, Sendable, Equatable {
    public var name: String
    /// "1920x1080" or "1920x1080@60".
    public var mode: String
    /// Physical size in millimetres, "293x165".
    public var size: String
    /// The display given wholly to this VM ({AVPS-v2.0-26}, {AVPS-v2.0-27}): one layer, the
    /// whole display, and no other layer may share it.
    public var vm: String?
    /// Bottom to top.
    public var layers: [LayerSpec]?

    /// The layers as given, or the one layer of an exclusive `vm`, each with the path its
    /// fields are reported under (the display's own for `vm`, whose only field is `vm`).
    func effectiveLayers(at display: String) -> [(path: String, layer: LayerSpec)] {
        if let vm { return [(display, LayerSpec(vm: vm))] }
        return (layers ?? []).enumerated().map { ("\(display).layers[\($0.offset)]", $0.element) }
    }
}

/// One VM scanout on a display.
public struct LayerSpec: Decodable, Sendable, Equatable {
    public var vm: String
    /// x, y, width, height on the display; the whole display when absent.
    public var at: [WholeNumber]?
    /// 0 (invisible) to 255 (opaque, the default).
    public var opacity: WholeNumber?
    /// An alpha mask of the layer's size (`MaskImage`: binary PGM or PBM, white where the layer
    /// shows); relative to the platform file.
    public var mask: String?
    /// Rectangles (x, y, width, height in the layer) whose pixels must reach the display
    /// unchanged (AVPS §2.8.4): checked with a CRC on every composed frame.
    public var safety: [[WholeNumber]]?

    init(vm: String) { self.vm = vm }
}

/// VM pairs allowed to open vsock connections to each other (both directions).
public struct VsockPolicySpec: Codable, Sendable, Equatable {
    public var allow: [[String]]?
}

/// A shared device server: its name, its kind and the kind's options.
public struct ServerSpec: Decodable, Sendable, Equatable {
    public var name: String
    public var type: DeviceKind
    public var options: DeviceOptions

    enum CodingKeys: String, CodingKey, CaseIterable { case name, type }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(DeviceKind.self, forKey: .type)
        options = try DeviceOptions(from: decoder, excluding: Set(CodingKeys.allCases.map(\.rawValue)))
    }
}

/// A device of one VM: either served privately for it (the kind's options inline) or a
/// reference to a shared server (`server:`).
public struct DeviceSpec: Decodable, Sendable, Equatable {
    public var type: DeviceKind
    public var server: String?
    public var options: DeviceOptions

    enum CodingKeys: String, CodingKey, CaseIterable { case type, server }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(DeviceKind.self, forKey: .type)
        server = try c.decodeIfPresent(String.self, forKey: .server)
        options = try DeviceOptions(from: decoder, excluding: Set(CodingKeys.allCases.map(\.rawValue)))
    }
}

/// One virtual machine.
public struct VMSpec: Decodable, Sendable, Equatable {
    public enum RestartPolicy: String, Codable, Sendable, CaseIterable {
        /// Restart whenever the VM exits (a guest power-off included).
        case always
        /// Restart when QEMU fails or is killed, not after a clean power-off.
        case onFailure = "on-failure"
        /// Leave the VM down once it exits.
        case never
    }

    /// The instruction set the guest runs: what QEMU emulates (or KVM runs) and which guest image boots.
    public enum Architecture: String, Codable, Sendable, CaseIterable {
        /// q35 or microvm on qemu-system-x86_64.
        case x86_64
        /// Arm's virt machine on qemu-system-aarch64, booting AVP's device tree ({AVPS-v2.0-3}).
        case aarch64

        /// The machine a VM of this architecture gets when the platform file names none.
        public var defaultMachine: QemuCommandLine.Machine { self == .aarch64 ? .virt : .q35 }
    }

    /// How the VM's kernel starts.
    public enum BootMethod: String, Codable, Sendable, CaseIterable {
        /// QEMU loads the kernel and initrd (`-kernel`), the fastest.
        case kernel
        /// edk2 boots GRUB from an EFI system partition, which boots the kernel through its EFI
        /// stub, with AVP's device tree handed over by the firmware (EBBR, {AVPS-v2.0-1}; aarch64 only).
        case uefi
    }

    public var name: String
    /// x86_64 (the default) or aarch64.
    public var arch: Architecture?
    /// kernel (the default) or uefi.
    public var boot: BootMethod?
    /// q35 (virtio-pci) or microvm (virtio-mmio) on x86_64; virt (virtio-mmio) on aarch64.
    public var machine: QemuCommandLine.Machine?
    public var cpus: WholeNumber?
    /// "512M", "1G" or a number of MiB.
    public var memory: MemorySize?
    /// A kernel image, "default" for the guest image built by scripts/guest-image, or "debian" for
    /// Debian's stock kernel of the VM's architecture (aarch64: bookworm's arm64 6.1).
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    public var restart: RestartPolicy?
    /// A supervised watchdog ({AVPS-v2.0-35}, `WatchdogSetting`); none when absent.
    public var watchdog: WatchdogSpec?
    public var devices: [DeviceSpec]?
}

extension QemuCommandLine.Machine: Codable {}
