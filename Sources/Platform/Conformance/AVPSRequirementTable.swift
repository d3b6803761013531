/// Every requirement of AVPS v2.0 ({AVPS-v2.0-1} … {AVPS-v2.0-50}) and the pending VIRTIO-sound one
/// of §2.9, in the specification's order. Titles are summaries; the specification is the text.
/// Chapters with no requirement (Wi-Fi, TSN, CAN and the other automotive networks, cameras,
/// codecs) have no row: AVPS states none there (for CAN, pending an upstream VIRTIO-CAN).
extension AVPSRequirement {
    static let block = PlatformFeature.device(DeviceKind.block.rawValue)
    static let net = PlatformFeature.device(DeviceKind.net.rawValue)
    static let vsock = PlatformFeature.device(DeviceKind.vsock.rawValue)
    static let gpu = PlatformFeature.device(DeviceKind.gpu.rawValue)
    static let gpio = PlatformFeature.device(DeviceKind.gpio.rawValue)
    static let scmi = PlatformFeature.device(DeviceKind.scmi.rawValue)
    static let entropy = PlatformFeature.device(DeviceKind.entropy.rawValue)
    static let console = PlatformFeature.device(DeviceKind.console.rawValue)
    static let fs = PlatformFeature.device(DeviceKind.fs.rawValue)
    static let sound = PlatformFeature.device(DeviceKind.sound.rawValue)
    /// By name: the kinds of issue 15 (VIRTIO-crypto; USB host controllers passed through).
    static let crypto = PlatformFeature.device("crypto")
    static let usb = PlatformFeature.device("usb-host")

    static let boot = "2.5.1 Booting guest virtual machines"
    static let blockDevices = "2.6.1 Block Devices"
    static let networks = "2.7.1 Standard networks"
    static let interVM = "2.7.2 VSock and inter-VM networking"
    static let gpu2D = "2.8.1 GPU Device in 2D Mode"
    static let gpu3D = "2.8.2 GPU Device in 3D Mode"
    static let composition = "2.8.3 Virtualization of framebuffer / composition"
    static let iommu = "2.10 IOMMU Device"
    static let usbChapter = "2.11 USB"
    static let randomNumbers = "2.19.1 Random Number Generation"
    static let textConsole = "2.20.1 Text Console"

    public static let all: [AVPSRequirement] = [
        .init(.numbered(1), "A platform with a dynamic boot protocol implements EBBR (UEFI)", chapter: boot, features: [.uefiBoot]),
        .init(.numbered(2), "EBBR with ACPI or a device tree, whichever fits the architecture", chapter: boot, features: [.uefiBoot]),
        .init(.numbered(3), "Without a dynamic boot protocol, the virtual hardware is still described by a device tree", chapter: boot),

        .init(.numbered(4), "Virtual block devices as VIRTIO §5.2 specifies", chapter: blockDevices, features: [block]),
        .init(.numbered(5), "Block: VIRTIO_BLK_F_FLUSH", chapter: blockDevices, features: [block]),
        .init(.numbered(6), "Block: VIRTIO_BLK_F_CONFIG_WCE (write cache switched by the driver)", chapter: blockDevices, features: [block]),
        .init(.numbered(7), "Block: VIRTIO_BLK_F_DISCARD (and WRITE_ZEROES)", chapter: blockDevices, features: [block]),

        .init(.numbered(8), "Virtual networking through VIRTIO-net", chapter: networks, features: [net]),
        .init(.numbered(9), "Any hardware network interface can be dedicated to one VM", chapter: networks,
              expectation: .configurationOnly("no PCI NIC to spare on the test host: VFIO dedication is checked by avp check and in the QEMU command line, not in a guest"),
              features: [net]),
        .init(.numbered(10), "VIRTIO-net supports the listed feature flags", chapter: networks, features: [net]),
        .init(.numbered(11), "VIRTIO-net: VIRTIO_NET_F_MTU", chapter: networks, features: [net]),
        .init(.numbered(12), "VIRTIO-net: VIRTIO_NET_F_MAC", chapter: networks, features: [net]),
        .init(.numbered(13), "VIRTIO-net: VIRTIO_NET_F_CTRL_MAC_ADDR", chapter: networks, features: [net]),
        .init(.numbered(14), "May limit a VM's changes of its MAC address (allow list)", chapter: networks, features: [net]),

        .init(.numbered(15), "Configurable inter-VM networking (vsock, or virtual NICs that can be bridged)", chapter: interVM, features: [net, vsock]),
        .init(.numbered(16), "vsock through VIRTIO-vsock", chapter: interVM, features: [vsock]),

        .init(.numbered(17), "GPU 2D: device ID as VIRTIO-GPU §5.7.1", chapter: gpu2D, features: [gpu]),
        .init(.numbered(18), "GPU 2D: virtqueues as §5.7.2", chapter: gpu2D, features: [gpu]),
        .init(.numbered(19), "GPU 2D: VIRTIO_GPU_F_VIRGL is not offered", chapter: gpu2D, features: [gpu]),
        .init(.numbered(20), "GPU 2D: VIRTIO_GPU_F_EDID offered and supported (display size for DPI)", chapter: gpu2D, features: [gpu]),
        .init(.numbered(21), "GPU 2D: configuration layout as §5.7.4, reserved field untouched", chapter: gpu2D, features: [gpu]),
        .init(.numbered(22), "GPU 2D: command set and operation flow as §5.7.6 (scatter-gather, DMA to attached resources)", chapter: gpu2D, features: [gpu]),
        .init(.numbered(23), "GPU 2D: VGA compatibility (optional)", chapter: gpu2D,
              expectation: .notApplicable("optional, and not offered: AVP's GPU is QEMU's vhost-user-gpu device without VGA"),
              features: [gpu]),
        .init(.numbered(24), "GPU 3D: VIRTIO-GPU 3D (optional)", chapter: gpu3D,
              expectation: .notApplicable("optional, and not offered: AVP's GPU is 2D only, without virgl as AVPS-v2.0-19 requires of 2D mode"),
              features: [gpu]),
        .init(.numbered(25), "Hardware graphics virtualization exposed through portable APIs", chapter: gpu3D,
              expectation: .notApplicable("applies where the hardware virtualizes its GPU; AVP uses no GPU hardware and offers no 3D"),
              features: [gpu]),

        .init(.numbered(26), "Separate outputs per VM; no VM can see or change another's output", chapter: composition, features: [gpu]),
        .init(.numbered(27), "One of several VMs assigned to a single output, still isolated", chapter: composition, features: [gpu]),
        .init(.numbered(28), "Graphics of several VMs composed into one output", chapter: composition, features: [gpu]),
        .init(.numbered(29), "A policy for combining the graphics, masking included", chapter: composition, features: [gpu]),

        .init(.numbered(30), "The system is protected from untrusted or faulty devices and from devices driven by untrusted VMs", chapter: iommu),
        .init(.numbered(31), "A guest-programmable IOMMU (optional)", chapter: iommu,
              expectation: .notApplicable("optional, and not offered: AVP gives guests no IOMMU")),
        .init(.numbered(32), "A guest-controlled IOMMU is VIRTIO-IOMMU (or a separate hardware stage)", chapter: iommu,
              expectation: .notApplicable("applies only to a guest-programmable IOMMU, which AVP does not offer (AVPS-v2.0-31)")),

        .init(.numbered(33), "Statically configured pass-through of each USB host controller", chapter: usbChapter,
              expectation: .configurationOnly("no USB host controller to spare on the test host: the pass-through setting is checked by avp check and in the QEMU command line (VFIO), not in a guest"),
              features: [usb]),
        .init(.numbered(34), "May offer a run-time API for a VM to request USB access", chapter: usbChapter,
              expectation: .notApplicable("optional (MAY), and not offered: USB pass-through is static (AVPS-v2.0-33)")),

        .init(.numbered(35), "A virtual watchdog following SBSA's generic watchdog", chapter: "2.13 Watchdog", features: [.watchdog]),
        .init(.numbered(36), "On Arm, power and system management through PSCI and SCMI", chapter: "2.14 Power and System Management",
              features: [.arm64VM, scmi]),
        .init(.numbered(37), "Configurable pass-through of GPIO hardware to a VM", chapter: "2.15 GPIO", features: [gpio]),
        .init(.numbered(38), "May emulate a GPIO block that common kernels already drive", chapter: "2.15 GPIO", features: [gpio]),
        .init(.numbered(39), "Virtualized sensors exposed through SCMI", chapter: "2.16 Sensors", features: [scmi]),

        .init(.numbered(40), "At least one good entropy source the guest can read", chapter: randomNumbers, features: [entropy]),
        .init(.numbered(41), "The entropy source is VIRTIO entropy (§5.4) and gives only entropy", chapter: randomNumbers, features: [entropy]),
        .init(.numbered(42), "A random seed available at boot, in the device tree as kaslr-seed", chapter: randomNumbers),
        .init(.numbered(43), "TrustZone and equivalent TEE access as on native hardware (SMC)", chapter: "2.19.2 Trusted Execution Environments",
              expectation: .notApplicable("no TEE to reach: x86 guests here run on KVM or TCG without one, and AVP's arm64 VMs run -M virt without TrustZone firmware")),
        .init(.numbered(44), "Virtualized replay-protected memory (RPMB) as VIRTIO-RPMB", chapter: "2.19.3 Replay Protected Memory Block (RPMB)",
              expectation: .notApplicable("not offered: Linux has no upstream virtio-rpmb driver and QEMU no front end, so no guest could use or test it")),
        .init(.numbered(45), "Crypto acceleration may be VIRTIO-crypto (§5.9)", chapter: "2.19.4 Crypto acceleration", features: [crypto]),

        .init(.numbered(46), "The console as VIRTIO §5.3", chapter: textConsole, features: [console]),
        .init(.numbered(47), "Consoles fit the operating system's normal development flow", chapter: textConsole, features: [console]),
        .init(.numbered(48), "Consoles can be shut off entirely in production, not from a guest", chapter: textConsole),
        .init(.numbered(49), "Countermeasures so consoles are not left enabled", chapter: textConsole),

        .init(.numbered(50), "File system virtualization offers VIRTIO-FS", chapter: "2.20.2 Filesystem virtualization", features: [fs]),

        .init(.pending("SND"), "[PENDING] Virtualized audio is VIRTIO-sound", chapter: "2.9 Audio", features: [sound]),
    ]
}
