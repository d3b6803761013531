import Foundation
import SystemCalls

/// A macvtap in passthru mode that `avp up` creates on a host interface for one VM's net
/// device ({AVPS-v2.0-9}: the whole interface is that VM's) and deletes when the platform
/// stops. QEMU gets its tap device, /dev/tapIFINDEX, as an open descriptor: QEMU's
/// `-netdev tap,ifname=` opens /dev/net/tun, which a macvtap is not.
public struct Macvtap: Sendable, Equatable {
    /// The macvtap's interface name: `avp-VM-INDEX`, or a hash of them when that is too long.
    public var name: String
    /// The host interface it takes over.
    public var parent: String
    /// The macvtap's MAC, which the guest's virtio-net shows too.
    public var mac: String
    /// The descriptor number QEMU finds the tap on (`-netdev tap,fd=N`).
    public var fd: Int32

    public init(name: String, parent: String, mac: String, fd: Int32) {
        self.name = name
        self.parent = parent
        self.mac = mac
        self.fd = fd
    }

    /// The first descriptor a VM's taps get: after standard input, output and error.
    public static let firstDescriptor: Int32 = 3

    /// `avp-ivi-2`; `avp-` and 8 hex digits of a hash of platform, VM and index when that
    /// exceeds Linux's 15 bytes.
    public static func name(platform: String, vm: String, index: Int) -> String {
        let plain = "avp-\(vm)-\(index)"
        if plain.utf8.count <= InterfaceName.maxLength { return plain }
        var hash: UInt32 = 2_166_136_261   // FNV-1a
        for byte in "\(platform)/\(vm)/\(index)".utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return "avp-" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The `ip` commands that create it: passthru mode gives it the parent exclusively, and
    /// its MAC (set on the parent by the kernel in this mode) is the guest's.
    public var createCommands: [[String]] {
        [["link", "add", "link", parent, "name", name, "type", "macvtap", "mode", "passthru"],
         ["link", "set", "dev", name, "address", mac, "up"]]
    }

    public var deleteCommand: [String] { ["link", "delete", "dev", name] }

    /// The macvtap's character device: /dev/tap followed by its interface index.
    public func tapDevice(sysfs: String = "/sys") throws(PlatformError) -> String {
        let path = "\(sysfs)/class/net/\(name)/ifindex"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let index = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), index > 0 else {
            throw .launchFailed("macvtap \(name) has no interface index (\(path)); was it created?")
        }
        return "/dev/tap\(index)"
    }

    /// Opens the tap for a QEMU child: close-on-exec, above every descriptor the child is
    /// given (the child's dup2 must not land on a source it still needs).
    public func openTap() throws(PlatformError) -> Int32 {
        let path = try tapDevice()
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .launchFailed("cannot open \(path) (macvtap \(name)): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let high = fcntl(fd, F_DUPFD_CLOEXEC, 100)
        guard high >= 0 else { throw .launchFailed("cannot duplicate \(path): \(String(cString: strerror(errno)))") }
        return high
    }

    /// Creates every macvtap (deleting one left by an earlier run first); `log` gets `ip`'s output.
    public static func create(_ taps: [Macvtap], log: String) throws(PlatformError) {
        for tap in taps {
            _ = try? runIP(tap.deleteCommand, log: log)
            for command in tap.createCommands { try runIP(command, log: log) }
        }
    }

    /// Deletes the macvtaps; the parent interfaces return to the host.
    public static func delete(_ taps: [Macvtap], log: String) {
        for tap in taps { _ = try? runIP(tap.deleteCommand, log: log) }
    }

    private static func runIP(_ arguments: [String], log: String) throws(PlatformError) {
        guard let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first(where: FileManager.default.isExecutableFile) else {
            throw .launchFailed("macvtap needs the ip command (iproute2)")
        }
        let child: ChildProcess
        do { child = try ChildProcess(executable: ip, arguments: arguments, logPath: log) } catch {
            throw .launchFailed("cannot run ip: \(error)")
        }
        let deadline = Date().addingTimeInterval(10)
        while child.isRunning {
            if Date() > deadline { child.kill(); break }
            usleep(10_000)
        }
        guard child.exitedCleanly else {
            throw .launchFailed("'ip \(arguments.joined(separator: " "))' failed (see \(log)); macvtap needs CAP_NET_ADMIN")
        }
    }
}
