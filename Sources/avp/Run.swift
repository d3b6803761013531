import ArgumentParser
import Devices
import Foundation
import Logging
import Platform
import SystemCalls
import VhostUser
import ServerCommands

/// `avp run`: one guest under QEMU with AVP's entropy device server, console on stdout.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot the default guest under QEMU with AVP's device servers; console on stdout.",
        discussion: """
            Starts the entropy device server (vhost-user) in this process and a QEMU guest wired to it with shared memfd memory. By default the guest runs a short demo and powers off; the exit status is the guest script's. Build the guest first: scripts/guest-image.
            """)

    @Option(help: "q35 (virtio-pci) or microvm (virtio-mmio) on x86; virt (virtio-mmio, the arm64 guest image, qemu-system-aarch64).")
    var machine: String = "q35"
    @Option(help: "Guest RAM in MiB, 128 to 262144.")
    var memory = 512
    @Option(help: "Guest CPUs, 1 to 255.")
    var cpus = 2
    @Option(help: "QEMU binary (default: qemu-system-aarch64 for --machine virt, else qemu-system-x86_64).")
    var qemu: String?
    @Option(help: "Kernel (default: the cached guest image).")
    var kernel: String?
    @Option(help: "Base initramfs (default: the cached guest image).")
    var initrd: String?
    @Option(help: "A shell script for the guest to run instead of the demo (busybox sh).")
    var script: String?
    @Flag(help: "An interactive shell on the guest console instead of a script.")
    var shell = false
    @Option(help: "Seconds before the guest is stopped (0: never).")
    var timeout: Double = 600
    @Option(help: "Extra kernel command-line arguments.")
    var append: [String] = []
    @Option(help: ArgumentHelp("A disk served by AVP's block device server (vhost-user-blk), in guest order vda, vdb, ...: "
        + "an image PATH, then any of ,ro ,serial=ID ,queues=N ,cache=writeback|writethrough ,direct "
        + "(e.g. data.img,ro,serial=DATA).", valueName: "disk"), transform: DiskSpecification.init(parsing:))
    var disk: [DiskSpecification] = []
    @Option(help: ArgumentHelp("Also give the guest one of QEMU's built-in virtio devices, after AVP's, for side-by-side "
        + "comparisons: virtio-rng, or virtio-blk:PATH (serial QEMU-BUILTIN).", valueName: "device"))
    var compareWith: [String] = []
    @Option(help: ArgumentHelp("Copy a host program (and the shared libraries it needs) into the guest's /usr/local/bin, "
        + "e.g. fio or mkfs.ext4.", valueName: "program"))
    var tool: [String] = []
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if !PlatformLimits.memoryMiB.contains(memory) {
            throw ValidationError("--memory \(memory): use \(PlatformLimits.memoryMiB.lowerBound) to \(PlatformLimits.memoryMiB.upperBound) (MiB)")
        }
        if !PlatformLimits.cpus.contains(cpus) {
            throw ValidationError("--cpus \(cpus): use \(PlatformLimits.cpus.lowerBound) to \(PlatformLimits.cpus.upperBound)")
        }
        if !timeout.isFinite || timeout < 0 {
            throw ValidationError("--timeout \(timeout): use a number of seconds, or 0 for no timeout")
        }
    }

    func run() throws {
        let signals = TerminationSignals()   // first: threads started later inherit the blocked mask
        _ = try logging.bootstrap()
        guard let machineType = QemuCommandLine.Machine(rawValue: machine) else {
            throw ValidationError("unknown machine '\(machine)': use q35, microvm or virt")
        }
        let arm = machineType == .virt
        let qemu = self.qemu ?? (arm ? "qemu-system-aarch64" : "qemu-system-x86_64")
        var image = arm ? GuestImage.cached(.arm64) : GuestImage.default
        if let kernel { image.kernel = kernel; image.pvhKernel = nil }
        if let initrd { image.initramfs = initrd }
        try image.check()

        let logger = Logger(label: "avp.run")
        let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-run-\(getpid())").path
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }

        let socket = stateDirectory + "/entropy.sock"
        let server = try VhostUserServer(socketPath: socket, device: EntropyDevice(logger: Logger(label: "avp.entropy")),
                                         logger: Logger(label: "avp.entropy"))
        try server.start()
        defer { server.stop() }

        var servers = [server]
        defer { for s in servers.dropFirst() { s.stop() } }
        var blockDevices: [QemuCommandLine.VhostUserDevice] = []
        for (i, spec) in disk.enumerated() {
            let path = stateDirectory + "/disk\(i).sock"
            let diskLogger = Logger(label: "avp.block.\(i)")
            let device = try BlockDevice(options: spec.options, logger: diskLogger)
            let diskServer = try VhostUserServer(socketPath: path, device: device, logger: diskLogger)
            try diskServer.start()
            servers.append(diskServer)
            blockDevices.append(.init(model: .block(queues: spec.options.queueCount), socketPath: path, id: "disk\(i)"))
        }

        var command = QemuCommandLine(kernel: image.kernel(for: machineType), initrd: image.initramfs)
        command.qemu = qemu
        command.machine = machineType
        command.memoryMiB = memory
        command.cpus = cpus
        command.accelerator = arm ? AcceleratorProbe.chooseForArm() : AcceleratorProbe.choose(qemu: qemu, image: image)
        command.tscKHz = arm ? nil : HostCPU.tscKHz()
        command.serial = .stdio
        command.kernelArguments = append
        command.vhostUserDevices = [.init(model: .rng, socketPath: socket, id: "rng0")] + blockDevices
        command.builtinDevices = try compareWith.map(QemuCommandLine.BuiltinDevice.init(parsing:))
        if shell {
            command.kernelArguments.append("avp.shell=1")
        } else {
            let text = try script.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? GuestScripts.entropyDemo
            command.initrd = stateDirectory + "/initrd"
            let prologue = "export PATH=/\(HostTools.binDirectory):$PATH\n"
            try image.initrd(withScript: prologue + text, extraFiles: try HostTools.files(for: tool), at: command.initrd)
        }
        logger.info("starting \(command.machine) guest (\(command.accelerator)) with entropy on \(socket)")

        let console = ConsoleCapture()
        let guest = try QemuProcess(command: command, output: shell ? .inherit : .stream { chunk in
            console.append(chunk)
            FileHandle.standardOutput.write(Data(chunk.utf8))
        })
        let watcher = try OSThread(name: "avp-signals") {
            let signal = signals.wait()
            logger.notice("signal \(signal): stopping the guest")
            guest.kill()
        }
        _ = watcher
        let qemuStatus = guest.wait(timeoutSeconds: timeout > 0 ? timeout : .infinity)
        if qemuStatus == nil { logger.error("guest did not finish within \(timeout) s; stopped") }
        if shell { return }
        guard let status = ConsoleLog.exitStatus(in: console.text) else {
            throw ExitCode(qemuStatus == 0 ? 1 : (qemuStatus ?? 124))
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// Console text collected from QEMU's stdout stream (written by the reader thread).
final class ConsoleCapture: @unchecked Sendable {
    private var buffer = ""
    private let lock = NSLock()
    func append(_ s: String) { lock.withLock { buffer += s } }
    var text: String { lock.withLock { buffer } }
}
