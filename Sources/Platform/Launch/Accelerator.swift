import Foundation

/// Chooses KVM where it really runs a stock kernel, TCG otherwise.
///
/// A /dev/kvm can exist and still be unusable: a paravirtual KVM without VMX/SVM
/// makes QEMU hang silently after "Booting from ROM" (seen on the development
/// machines). So KVM is chosen only if /dev/kvm is read-writable, the CPU
/// advertises vmx or svm, and a probe boot of the guest image with `-accel kvm`
/// reaches the ready marker; the probe's answer is cached per QEMU binary and kernel.
public enum AcceleratorProbe {
    /// `AVP_ACCEL=kvm|tcg` overrides the probe.
    public static func choose(qemu: String, image: GuestImage) -> QemuCommandLine.Accelerator {
        if let forced = ProcessInfo.processInfo.environment["AVP_ACCEL"].flatMap(QemuCommandLine.Accelerator.init(rawValue:)) {
            return forced
        }
        guard access("/dev/kvm", R_OK | W_OK) == 0, cpuHasVirtualization() else { return .tcg }
        let key = [qemu, image.kernel, modificationTime(image.kernel)].joined(separator: "|")
        let cacheFile = GuestImage.cacheDirectory + "/accel-probe"
        if let cached = try? String(contentsOfFile: cacheFile, encoding: .utf8),
           let line = cached.split(separator: "\n").first(where: { $0.hasPrefix(key + "=") }) {
            return QemuCommandLine.Accelerator(rawValue: String(line.dropFirst(key.count + 1))) ?? .tcg
        }
        let result: QemuCommandLine.Accelerator = probeBoot(qemu: qemu, image: image) ? .kvm : .tcg
        try? FileManager.default.createDirectory(atPath: GuestImage.cacheDirectory, withIntermediateDirectories: true)
        try? (key + "=" + result.rawValue + "\n").write(toFile: cacheFile, atomically: true, encoding: .utf8)
        return result
    }

    /// The accelerator of an aarch64 (virt) VM: KVM only on an aarch64 host whose /dev/kvm this
    /// user can open (then `-cpu host`), TCG otherwise (an x86 host cannot run Arm code in KVM).
    /// `AVP_ACCEL=tcg` forces TCG; `AVP_ACCEL=kvm` is honoured on an aarch64 host only.
    public static func chooseForArm() -> QemuCommandLine.Accelerator {
        var name = utsname()
        uname(&name)
        let machine = withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard machine == "aarch64" else { return .tcg }
        if let forced = ProcessInfo.processInfo.environment["AVP_ACCEL"].flatMap(QemuCommandLine.Accelerator.init(rawValue:)) {
            return forced
        }
        return access("/dev/kvm", R_OK | W_OK) == 0 ? .kvm : .tcg
    }

    static func cpuHasVirtualization() -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            let flags = Set(line.split(separator: " ").map(String.init))
            return flags.contains("vmx") || flags.contains("svm")
        }
        return false
    }

    private static func modificationTime(_ path: String) -> String {
        let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        return String(Int(date?.timeIntervalSince1970 ?? 0))
    }

    private static func probeBoot(qemu: String, image: GuestImage) -> Bool {
        var command = QemuCommandLine(kernel: image.kernel, initrd: image.initramfs)
        command.qemu = qemu
        command.accelerator = .kvm
        command.memoryMiB = 256
        command.cpus = 1
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("avp-kvm-probe-\(getpid()).log").path
        command.serial = .file(log)
        defer { unlink(log) }
        guard let qemuProcess = try? QemuProcess(command: command, outputPath: "/dev/null") else { return false }
        let ready = ConsoleLog(path: log).waitFor(GuestImage.readyMarker, timeoutSeconds: 30, while: { qemuProcess.isRunning })
        qemuProcess.kill()
        return ready
    }
}
