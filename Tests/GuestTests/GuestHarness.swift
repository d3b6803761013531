import Foundation
import Platform
import Testing

/// Real guests for integration tests: the cached Debian guest image, real QEMU,
/// and the `avp` binary built next to this test bundle. Missing prerequisites
/// fail the test with the fix; they never skip it.
enum GuestHarness {
    static let image = GuestImage.default
    /// `AVP_QEMU` selects another QEMU (e.g. 7.2 next to the installed 10.0).
    static let qemu = ProcessInfo.processInfo.environment["AVP_QEMU"] ?? "qemu-system-x86_64"
    /// Generous: a TCG boot takes 4–10 s, more when the two cores are shared.
    static let guestTimeout: Double = 180

    /// The directory SwiftPM built this test bundle (and `avp`) into.
    static var buildDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    static func avpBinary() throws -> String {
        let candidates = [buildDirectory.appendingPathComponent("avp").path,
                          buildDirectory.deletingLastPathComponent().appendingPathComponent("avp").path]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw PlatformError.missingFile(candidates[0], fix: "build it first: swift build")
        }
        return path
    }

    static func checkPrerequisites() throws {
        try image.check()
        _ = try QemuProcess.resolve(qemu)
        _ = try avpBinary()
    }

    /// A fresh working directory for one test.
    static func workDirectory(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-guest-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Removes a test's working directory, unless `AVP_KEEP` is set: then it stays, for a look at
    /// its logs, and the test prints where it is.
    static func removeUnlessKept(_ dir: String) {
        if ProcessInfo.processInfo.environment["AVP_KEEP"] == nil {
            try? FileManager.default.removeItem(atPath: dir)
        } else {
            print("kept \(dir)")
        }
    }

    /// Stops a QEMU the test started by hand: SIGTERM, then SIGKILL after `grace` seconds, and
    /// reaps it. QEMU handles SIGTERM in its main loop, so one blocked waiting for a back end's
    /// reply (a refused device) never acts on it; one left running holds `swift test`'s output
    /// pipe open, and the whole run then never ends.
    static func stop(_ qemu: Process, grace: Double = 5) {
        guard qemu.isRunning else { return }
        qemu.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while qemu.isRunning, Date() < deadline { usleep(50_000) }
        if qemu.isRunning { kill(qemu.processIdentifier, SIGKILL) }
        qemu.waitUntilExit()
    }

    static var accelerator: QemuCommandLine.Accelerator { AcceleratorProbe.choose(qemu: qemu, image: image) }
    static var tscArgument: String { HostCPU.tscKHz().map { "tsc_early_khz=\($0)" } ?? "" }
}

/// `avp serve ...` as a separate process, the way a platform or a user runs it.
final class ServerProcess {
    let process = Process()
    let logPath: String

    init(arguments: [String], logPath: String) throws {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: try GuestHarness.avpBinary())
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits until the socket file exists (the server binds before serving).
    func waitForSocket(_ path: String) throws {
        for _ in 0..<200 {
            if FileManager.default.fileExists(atPath: path) { return }
            usleep(25_000)
        }
        throw PlatformError.launchFailed("server socket \(path) never appeared; log:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// SIGTERM, as a supervisor stops a server. A server must be gone within a few seconds (its
    /// `StopDeadline` exits one second after the signal whatever hangs): one that is not is killed and
    /// recorded as an issue, rather than hanging the whole test run in waitUntilExit.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            Issue.record("avp \(process.arguments?.prefix(2).joined(separator: " ") ?? "") did not stop within 15 s of SIGTERM; log:\n\(log.suffix(2000))")
        }
        process.waitUntilExit()
    }

    /// SIGKILL: what a crash of the device server looks like.
    func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The counters a block server logs when it stops ("statistics: reads=3 writes=5 ...").
    var statistics: [String: Int] {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("statistics: ") }) else { return [:] }
        var result: [String: Int] = [:]
        for field in line[line.range(of: "statistics: ")!.upperBound...].split(separator: " ") {
            let kv = field.split(separator: "=")
            if kv.count == 2, let v = Int(kv[1]) { result[String(kv[0])] = v }
        }
        return result
    }

    deinit { stop() }
}

/// Guest-side checks, busybox sh. Each prints what it measured, and exits non-zero on failure.
enum GuestChecks {
    /// {AVPS-v2.0-40}/{AVPS-v2.0-41}: the hardware RNG is virtio-rng, and 1 MiB read from it
    /// is not constant and has no repeated 64-byte block.
    static let entropy = """
        rng=/sys/class/misc/hw_random
        echo "rng_available=$(cat $rng/rng_available)"
        cur=$(cat $rng/rng_current)
        echo "rng_current=$cur"
        case "$cur" in virtio_rng.*) ;; *) echo "FAIL: hw_random is not virtio_rng"; exit 10 ;; esac
        head -c 1048576 /dev/hwrng > /tmp/r || exit 11
        size=$(wc -c < /tmp/r)
        echo "bytes=$size"
        [ "$size" -eq 1048576 ] || { echo "FAIL: short read"; exit 12; }
        values=$(head -c 65536 /tmp/r | hexdump -v -e '1/1 "%02x\\n"' | sort -u | wc -l)
        echo "distinct-byte-values=$values"
        [ "$values" -ge 250 ] || { echo "FAIL: bytes look constant"; exit 13; }
        blocks=$(hexdump -v -e '64/1 "%02x" "\\n"' /tmp/r | sort | uniq -d | wc -l)
        echo "repeated-64-byte-blocks=$blocks"
        [ "$blocks" -eq 0 ] || { echo "FAIL: repeated blocks"; exit 14; }
        echo "virtio-rng driver: $(basename $(readlink /sys/bus/virtio/devices/virtio0/driver))"
        """
}

/// One guest booted by the test with avp's QEMU command line, a script and optional host tools.
struct GuestBoot {
    /// The default image, or `.backports` (Debian's 6.12 kernel) for graphics.
    var image = GuestHarness.image
    var machine = QemuCommandLine.Machine.q35
    var memoryMiB = 512
    var cpus = 2
    var devices: [QemuCommandLine.VhostUserDevice] = []
    var tools: [String] = []
    /// More layer files (path in the guest → contents), e.g. `HostTools.files(forProgramsAt:)`.
    var files: [String: [UInt8]] = [:]
    /// QEMU listens on the vhost-user sockets (`server=on,wait=on`) and servers run with `--connect`, as in a platform:
    /// a server that dies is replaced by a new one connecting to the same socket.
    var vhostUserServerMode = false

    /// Starts QEMU; the console goes to `directory/console.log`.
    func start(script: String, in directory: String) throws -> (QemuProcess, ConsoleLog) {
        var command = QemuCommandLine(kernel: image.kernel(for: machine), initrd: directory + "/initrd")
        command.qemu = GuestHarness.qemu
        command.machine = machine
        command.memoryMiB = memoryMiB
        command.cpus = cpus
        command.accelerator = GuestHarness.accelerator
        command.tscKHz = HostCPU.tscKHz()
        command.serial = .file(directory + "/console.log")
        command.vhostUserDevices = devices
        command.vhostUserServerMode = vhostUserServerMode
        let prologue = "export PATH=/\(HostTools.binDirectory):$PATH\n"
        try image.initrd(withScript: prologue + script, extraFiles: try HostTools.files(for: tools).merging(files) { $1 }, at: command.initrd)
        let qemu = try QemuProcess(command: command, outputPath: directory + "/qemu.log")
        return (qemu, ConsoleLog(path: directory + "/console.log"))
    }

    /// Boots, waits for the guest to power off, and returns its console.
    func run(script: String, in directory: String) throws -> ConsoleLog {
        let (qemu, console) = try start(script: script, in: directory)
        let status = qemu.wait(timeoutSeconds: GuestHarness.guestTimeout)
        if status == nil { Issue.record("guest timed out; console:\n\(console.text.suffix(3000))") }
        return console
    }
}

extension ConsoleLog {
    /// The value of the last "key=value" line the guest printed.
    func value(_ key: String) -> String? {
        // The serial console ends lines with "\r\n", which Swift treats as one Character.
        text.components(separatedBy: .newlines).last(where: { $0.hasPrefix(key + "=") })
            .map { String($0.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
