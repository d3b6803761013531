import Foundation

/// The default test and demo guest: a Debian bookworm kernel and a busybox
/// initramfs built by `scripts/guest-image` into a cache outside the repository.
/// Its /init loads the virtio modules, prints `AVP-GUEST-READY`, runs
/// `/avp/test.sh` when a layer provides one (printing `AVP-TEST-EXIT=<status>`),
/// and powers off.
public struct GuestImage: Sendable {
    /// The bzImage (boots on every machine type).
    public var kernel: String
    public var initramfs: String
    /// The same kernel as an uncompressed ELF with a PVH entry: boots about 3 s faster under
    /// TCG on q35, but not on microvm (which loads the initrd over its ACPI tables then).
    public var pvhKernel: String?

    public static let readyMarker = "AVP-GUEST-READY"
    public static let exitMarker = "AVP-TEST-EXIT="
    /// Path of the script a layer adds for /init to run.
    public static let scriptPath = "avp/test.sh"

    public init(kernel: String, initramfs: String, pvhKernel: String? = nil) {
        self.kernel = kernel
        self.initramfs = initramfs
        self.pvhKernel = pvhKernel
    }

    /// The kernel file to boot on `machine`.
    public func kernel(for machine: QemuCommandLine.Machine) -> String {
        if machine == .q35, let pvhKernel, FileManager.default.fileExists(atPath: pvhKernel) { return pvhKernel }
        return kernel
    }

    /// `$AVP_CACHE`, else `$XDG_CACHE_HOME/avp`, else `~/.cache/avp`.
    public static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["AVP_CACHE"], !dir.isEmpty { return dir }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/avp" }
        return (env["HOME"] ?? "/root") + "/.cache/avp"
    }

    /// The image `scripts/guest-image` builds.
    public static var `default`: GuestImage {
        let dir = cacheDirectory + "/guest/bookworm-amd64"
        return GuestImage(kernel: dir + "/vmlinuz", initramfs: dir + "/initramfs.cpio.gz", pvhKernel: dir + "/vmlinux")
    }

    /// Throws with the fix when the files are missing.
    public func check() throws {
        for path in [kernel, initramfs] where !FileManager.default.fileExists(atPath: path) {
            throw PlatformError.missingFile(path, fix: "build the guest image first: scripts/guest-image")
        }
    }

    /// An initrd made of the base initramfs followed by a layer holding `script` as /avp/test.sh
    /// (and any extra files), written to `path`.
    public func initrd(withScript script: String, extraFiles: [String: [UInt8]] = [:], at path: String) throws {
        var layer = CpioArchive()
        layer.addFile(Self.scriptPath, text: script, mode: 0o755)
        for (name, contents) in extraFiles.sorted(by: { $0.key < $1.key }) {
            layer.addFile(name, contents: contents, mode: 0o755)
        }
        var data = try Data(contentsOf: URL(fileURLWithPath: initramfs))
        // The kernel skips NUL padding between archives; aligning the layer keeps its
        // cpio header offsets 4-byte aligned as the format requires.
        data.append(contentsOf: [UInt8](repeating: 0, count: (512 - data.count % 512) % 512))
        data.append(contentsOf: layer.archive())
        try data.write(to: URL(fileURLWithPath: path))
    }
}
