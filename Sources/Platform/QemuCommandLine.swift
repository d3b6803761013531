/// The arguments for one QEMU guest wired to AVP device servers. Encodes the
/// facts a vhost-user platform depends on: guest RAM in a shared memfd (back ends
/// map it), no default devices or monitor, modern virtio-mmio on microvm.
public struct QemuCommandLine: Sendable {
    public enum Machine: String, Sendable, CaseIterable {
        /// PC with PCIe: devices are virtio-pci.
        case q35
        /// Minimal machine: devices are virtio-mmio, found by the kernel through ACPI.
        case microvm
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
        public enum Kind: String, Sendable {
            case rng

            /// QEMU's device model for this kind on `machine` (QEMU's names are not uniform:
            /// the mmio variant of vhost-user-rng has no suffix).
            public func modelName(on machine: Machine) -> String {
                switch (self, machine) {
                case (.rng, .q35): return "vhost-user-rng-pci"
                case (.rng, .microvm): return "vhost-user-rng"
                }
            }
        }
        public var kind: Kind
        public var socketPath: String
        public var id: String

        public init(kind: Kind, socketPath: String, id: String) {
            self.kind = kind
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
    /// QEMU's own devices by name (for side-by-side comparisons), e.g. "virtio-rng".
    public var builtinVirtioDevices: [String] = []
    /// TSC frequency handed to the kernel under TCG (calibration can hang otherwise).
    public var tscKHz: Int?

    public init(kernel: String, initrd: String) {
        self.kernel = kernel
        self.initrd = initrd
    }

    /// The model name of one of QEMU's built-in virtio devices on this machine:
    /// `-pci` on q35, `-device` (mmio) on microvm.
    public func transportName(_ base: String) -> String {
        machine == .q35 ? base + "-pci" : base + "-device"
    }

    public var arguments: [String] {
        var a: [String] = ["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"]
        switch machine {
        case .q35:
            a += ["-machine", "q35,accel=\(accelerator.rawValue),memory-backend=mem"]
        case .microvm:
            a += ["-machine", "microvm,accel=\(accelerator.rawValue),memory-backend=mem,rtc=on",
                  // A legacy-virtio guest would be refused by vhost-user back ends.
                  "-global", "virtio-mmio.force-legacy=false"]
        }
        a += ["-cpu", accelerator == .kvm ? "host" : "max"]
        a += ["-smp", String(cpus), "-m", "\(memoryMiB)M"]
        a += ["-object", "memory-backend-memfd,id=mem,size=\(memoryMiB)M,share=on"]
        a += ["-kernel", kernel, "-initrd", initrd, "-append", fullKernelArguments.joined(separator: " ")]
        switch serial {
        case .none: break
        case .stdio: a += ["-chardev", "stdio,id=console,signal=on", "-serial", "chardev:console"]
        case let .file(path): a += ["-chardev", "file,id=console,path=\(path)", "-serial", "chardev:console"]
        }
        for d in vhostUserDevices {
            a += ["-chardev", "socket,id=\(d.id),path=\(d.socketPath)",
                  "-device", "\(d.kind.modelName(on: machine)),chardev=\(d.id),id=\(d.id)-dev"]
        }
        for (i, name) in builtinVirtioDevices.enumerated() {
            a += ["-device", "\(transportName(name)),id=builtin\(i)"]
        }
        return a
    }

    /// The kernel command line: console, quiet TSC calibration under TCG, then the caller's.
    public var fullKernelArguments: [String] {
        var k: [String] = []
        if case .none = serial {} else { k.append("console=ttyS0") }
        k += ["panic=-1", "loglevel=4"]
        if accelerator == .tcg, let tscKHz { k.append("tsc_early_khz=\(tscKHz)") }
        return k + kernelArguments
    }
}
