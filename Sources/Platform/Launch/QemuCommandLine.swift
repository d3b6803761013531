/// The arguments for one QEMU guest wired to AVP device servers. Encodes the
/// facts a vhost-user platform depends on: guest RAM in a shared memfd (back ends
/// map it), no default devices or monitor, modern virtio-mmio on microvm.
public struct QemuCommandLine: Sendable {
    public enum Machine: String, Sendable, CaseIterable {
        /// PC with PCIe: devices are virtio-pci.
        case q35
        /// Minimal machine: devices are virtio-mmio, found by the kernel through ACPI.
        case microvm
        /// Arm's virt machine (qemu-system-aarch64, GICv3, no ACPI): devices are virtio-mmio on its
        /// 32 transports, described by AVP's own device tree (`ArmVirtHardware`, passed with `-dtb`).
        case virt

        /// The architecture QEMU emulates for this machine.
        public var architecture: VMSpec.Architecture { self == .virt ? .aarch64 : .x86_64 }
    }

    public enum Accelerator: String, Sendable {
        case kvm, tcg
    }

    /// Where the guest's serial console (ttyS0) goes.
    public enum SerialConsole: Sendable {
        case none
        /// This process's standard input and output (interactive; Ctrl-C stops QEMU).
        case stdio
        /// Appended to a file.
        case file(String)
    }

    /// A vhost-user device: QEMU's front end connects to an AVP back end's socket.
    public struct VhostUserDevice: Sendable {
        /// Its QEMU model; each kind file gives its own (`.rng`, `.block(queues:)`, ...).
        public var model: QemuDeviceModel
        public var socketPath: String
        public var id: String

        public init(model: QemuDeviceModel, socketPath: String, id: String) {
            self.model = model
            self.socketPath = socketPath
            self.id = id
        }
    }

    public var qemu = "qemu-system-x86_64"
    public var machine = Machine.q35
    public var accelerator = Accelerator.tcg
    public var memoryMiB = 512
    public var cpus = 2
    public var kernel: String
    public var initrd: String
    public var kernelArguments: [String] = []
    public var serial = SerialConsole.file("/dev/null")
    public var vhostUserDevices: [VhostUserDevice] = []
    /// Host hardware passed through (VFIO, a macvtap's tap), each at its `position` among `vhostUserDevices`.
    public var hostDevices: [QemuHostDevice] = []
    /// One of QEMU's own virtio devices, for side-by-side comparisons with AVP's.
    public enum BuiltinDevice: Sendable, Equatable {
        /// virtio-rng with QEMU's default rng-builtin backend (getrandom(2)).
        case rng
        /// virtio-blk on a raw image, host page cache and io_uring like AVP's server, with this serial.
        case block(path: String, serial: String)

        /// Parses `virtio-rng` or `virtio-blk:PATH`.
        public init(parsing text: String) throws {
            if text == "virtio-rng" { self = .rng; return }
            if text.hasPrefix("virtio-blk:"), text.count > 11 {
                self = .block(path: String(text.dropFirst(11)), serial: "QEMU-BUILTIN")
                return
            }
            throw PlatformError.invalidArgument("unknown built-in device '\(text)': use virtio-rng or virtio-blk:PATH")
        }
    }
    public var builtinDevices: [BuiltinDevice] = []
    /// TSC frequency handed to the kernel under TCG (calibration can hang otherwise).
    public var tscKHz: Int?
    /// A virtio console (QEMU's virtio-serial with a console on port 0, the guest's hvc0)
    /// whose byte stream goes to this Unix socket (AVP's console hub listens there).
    public var consoleSocket: String?
    /// Chardev option that makes QEMU reconnect to the console server when it restarted
    /// ("reconnect-ms=500" on QEMU 9.2 and later, "reconnect=1" before).
    public var reconnect: String?
    /// QEMU listens on the vhost-user sockets and waits for the back ends to connect
    /// (`server=on,wait=on`), so a restarted back end can reattach to the running VM.
    public var vhostUserServerMode = false
    /// A watchdog the guest pings and AVP's supervisor watches ({AVPS-v2.0-35}); q35 only.
    public var watchdog: QemuWatchdog?
    /// The device tree the guest boots with (`-dtb`, virt only): AVP writes it before every boot
    /// (`ArmVirtHardware`), so each boot has a fresh kaslr-seed and rng-seed.
    public var dtb: String?
    /// Boot through UEFI firmware from this boot disk instead of `-kernel` (virt only; `UefiBoot`).
    public var uefi: UefiLaunch?

    /// A UEFI boot: the boot disk AVP writes before every boot (`UefiBoot.prepare`), where the
    /// firmware keeps its variables, and whether edk2 gets a virtio-rng of QEMU's for its
    /// EFI_RNG_PROTOCOL (not when the VM has AVP's entropy device: edk2 drives that one).
    public struct UefiLaunch: Sendable, Equatable {
        public var disk: String
        public var variables: UefiBoot.VariableStore
        public var firmwareRNG: Bool

        public init(disk: String, variables: UefiBoot.VariableStore, firmwareRNG: Bool) {
            self.disk = disk
            self.variables = variables
            self.firmwareRNG = firmwareRNG
        }
    }

    public init(kernel: String, initrd: String) {
        self.kernel = kernel
        self.initrd = initrd
    }

    /// The model name of one of QEMU's built-in virtio devices on this machine:
    /// `-pci` on q35, `-device` (mmio) on microvm.
    public func transportName(_ base: String) -> String {
        machine == .q35 ? base + "-pci" : base + "-device"
    }

    /// The guest's serial console: the 16550 on x86, the PL011 on virt.
    public var serialConsoleName: String { machine == .virt ? "ttyAMA0" : "ttyS0" }

    public var arguments: [String] {
        var a: [String] = ["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"]
        switch machine {
        case .q35:
            a += ["-machine", "q35,accel=\(accelerator.rawValue),memory-backend=mem"]
        case .microvm:
            a += ["-machine", "microvm,accel=\(accelerator.rawValue),memory-backend=mem,rtc=on",
                  // A legacy-virtio guest would be refused by vhost-user back ends.
                  "-global", "virtio-mmio.force-legacy=false"]
        case .virt:
            // acpi=off: the guest (and edk2) get the device tree, not ACPI tables.
            a += ["-machine", "virt,gic-version=3,acpi=off,accel=\(accelerator.rawValue),memory-backend=mem",
                  "-global", "virtio-mmio.force-legacy=false"]
        }
        a += ["-cpu", accelerator == .kvm ? "host" : "max"]
        a += ["-smp", String(cpus), "-m", "\(memoryMiB)M"]
        a += ["-object", "memory-backend-memfd,id=mem,size=\(memoryMiB)M,share=on"]
        if machine == .virt, let uefi {
            // With -bios, -kernel would hand the kernel to edk2 through fw_cfg: the disk carries it instead.
            a += UefiBoot.firmwareArguments(variables: uefi.variables)
        } else {
            a += ["-kernel", kernel, "-initrd", initrd, "-append", fullKernelArguments.joined(separator: " ")]
        }
        if machine == .virt, let dtb { a += ["-dtb", dtb] }
        switch serial {
        case .none: a += ["-serial", "none", "-monitor", "none", "-parallel", "none"]
        case .stdio: a += ["-chardev", "stdio,id=console,signal=on", "-serial", "chardev:console"]
        case let .file(path): a += ["-chardev", "file,id=console,path=\(path)", "-serial", "chardev:console"]
        }
        let reconnectOption = reconnect.map { "," + $0 } ?? ""
        let vhostMode = vhostUserServerMode ? ",server=on,wait=on" : ""
        for (i, d) in vhostUserDevices.enumerated() {
            for h in hostDevices where h.position == i { a += h.arguments(on: machine) }
            a += ["-chardev", "socket,id=\(d.id),path=\(d.socketPath)\(vhostMode)"]
            let model = d.model.name(on: machine)
            switch d.model.attachment {
            case .netdev:
                a += ["-netdev", "vhost-user,id=\(d.id)-net,chardev=\(d.id)",
                      "-device", ([model, "netdev=\(d.id)-net", "id=\(d.id)-dev"] + d.model.properties).joined(separator: ",")]
            case .cryptodev:
                a += ["-object", "cryptodev-vhost-user,id=\(d.id)-crypto,chardev=\(d.id)",
                      "-device", ([model, "cryptodev=\(d.id)-crypto", "id=\(d.id)-dev"] + d.model.properties).joined(separator: ",")]
            case .chardev:
                a += ["-device", ([model, "chardev=\(d.id)", "id=\(d.id)-dev"] + d.model.properties).joined(separator: ",")]
            }
        }
        for h in hostDevices where h.position >= vhostUserDevices.count { a += h.arguments(on: machine) }
        if let consoleSocket {
            a += ["-device", "\(transportName("virtio-serial")),id=vserial0",
                  "-chardev", "socket,id=hvc0,path=\(consoleSocket)\(reconnectOption)",
                  "-device", "virtconsole,chardev=hvc0,nr=0,bus=vserial0.0"]
        }
        if let watchdog { a += watchdog.arguments }
        for (i, device) in builtinDevices.enumerated() {
            switch device {
            case .rng:
                a += ["-device", "\(transportName("virtio-rng")),id=builtin\(i)"]
            case let .block(path, serial):
                a += ["-drive", "file=\(path),if=none,id=builtin\(i),format=raw,cache=writeback,aio=io_uring",
                      "-device", "\(transportName("virtio-blk")),drive=builtin\(i),serial=\(serial)"]
            }
        }
        // Last: the boot disk takes the transport below the VM's own devices (`ArmVirtHardware`'s numbering).
        if machine == .virt, let uefi { a += UefiBoot.deviceArguments(disk: uefi.disk, firmwareRNG: uefi.firmwareRNG) }
        return a
    }

    /// The kernel command line: console, quiet TSC calibration under TCG, then the caller's.
    public var fullKernelArguments: [String] {
        var k: [String] = []
        if case .none = serial {} else { k.append("console=" + serialConsoleName) }
        if consoleSocket != nil { k += ["console=hvc0", "avp.getty=hvc0"] }
        k += ["panic=-1", "loglevel=4"]
        if accelerator == .tcg, machine != .virt, let tscKHz { k.append("tsc_early_khz=\(tscKHz)") }
        return k + (watchdog?.kernelArguments ?? []) + kernelArguments
    }
}
