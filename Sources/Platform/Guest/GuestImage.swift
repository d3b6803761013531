import Foundation

/// The default test and demo guest: a Debian bookworm kernel and a busybox
/// initramfs built by `scripts/guest-image` into a cache outside the repository.
/// Its /init loads the virtio modules, prints `AVP-GUEST-READY`, runs
/// `/avp/test.sh` when a layer provides one (printing `AVP-TEST-EXIT=<status>`),
/// and powers off.
public struct GuestImage: Sendable {
    /// Which image `scripts/guest-image` builds; each has its own cache directory.
    public enum Flavour: String, Sendable, CaseIterable, Comparable {
        /// Debian bookworm's kernel (6.1) with the virtio modules: `scripts/guest-image`, built by `make setup`.
        case `default`
        /// Debian's 6.12 kernel from bookworm-backports, the default's modules plus virtio_gpu (DRM,
        /// fbdev emulation: /dev/dri/card0, /dev/fb0) and virtio_snd, and `modetest`, `edid-decode`,
        /// `aplay`, `arecord` in /usr/bin:
        /// `scripts/guest-image --flavour backports`, built only when asked for (`ensureBuilt()`).
        case backports
        /// AVP's own kernel (`scripts/guest-kernel`: linux-source-6.12, every virtio driver AVPS
        /// uses built in — gpio and i2c, which no Debian x86 kernel has — and the i6300esb
        /// watchdog; no modules) with the backports tools plus gpiod and i2c-tools:
        /// `scripts/guest-image --flavour own`, built only when asked for (the first build
        /// compiles the kernel, about 10 minutes on 2 cores).
        case own
        /// AVP's own arm64 kernel (`scripts/guest-kernel --arch arm64`: PL011, GICv3, PSCI, KASLR,
        /// EFI stub, virtio-mmio and -pci, SCMI over virtio) with the same /init:
        /// `scripts/guest-image --flavour arm64`. `vmlinuz` is the uncompressed arm64 `Image`.
        /// Every aarch64 VM boots it; it is last in the order so the x86 flavours' `max` never picks it.
        case arm64
        /// Debian bookworm's stock arm64 kernel (6.1, `linux-image-arm64:arm64`) with the default
        /// flavour's virtio modules: `scripts/guest-image --flavour debian-arm64`, what an aarch64
        /// VM with `kernel: debian` boots. It has no SCMI virtio transport.
        case debianArm64

        /// The directory under `cacheDirectory/guest`.
        public var directoryName: String {
            switch self {
            case .default: return "bookworm-amd64"
            case .backports: return "bookworm-backports-amd64"
            case .own: return "avp-6.12-amd64"
            case .arm64: return "avp-6.12-arm64"
            case .debianArm64: return "bookworm-arm64"
            }
        }

        /// `scripts/guest-image`'s arguments for this flavour.
        public var scriptArguments: [String] {
            switch self {
            case .default: return []
            case .backports: return ["--flavour", "backports"]
            case .own: return ["--flavour", "own"]
            case .arm64: return ["--flavour", "arm64"]
            case .debianArm64: return ["--flavour", "debian-arm64"]
            }
        }

        /// Each flavour's kernel drives every device the ones before it in this order drive, so a
        /// VM whose devices need several flavours boots the latest of them (`max`).
        public static func < (a: Flavour, b: Flavour) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }

        /// An arm64 image (no PVH vmlinux; booted on `-M virt`).
        public var isArm64: Bool { self == .arm64 || self == .debianArm64 }

        /// The command that builds it, for error messages.
        public var buildCommand: String { (["scripts/guest-image"] + scriptArguments).joined(separator: " ") }
    }

    /// The bzImage (boots on every machine type).
    public var kernel: String
    public var initramfs: String
    /// The same kernel as an uncompressed ELF with a PVH entry: boots about 3 s faster under
    /// TCG on q35, but not on microvm (which loads the initrd over its ACPI tables then).
    public var pvhKernel: String?
    /// The flavour whose build command `check()` suggests and `ensureBuilt()` runs.
    public var flavour: Flavour

    public static let readyMarker = "AVP-GUEST-READY"
    public static let exitMarker = "AVP-TEST-EXIT="
    /// Path of the script a layer adds for /init to run.
    public static let scriptPath = "avp/test.sh"

    public init(kernel: String, initramfs: String, pvhKernel: String? = nil, flavour: Flavour = .default) {
        self.kernel = kernel
        self.initramfs = initramfs
        self.pvhKernel = pvhKernel
        self.flavour = flavour
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
    public static var `default`: GuestImage { cached(.default) }

    /// The image `scripts/guest-image --flavour backports` builds: Debian's 6.12 kernel with
    /// virtio-gpu, `modetest` and `edid-decode`. Not built by `make setup`: call `ensureBuilt()`.
    public static var backports: GuestImage { cached(.backports) }

    /// The cached image of `flavour` (whether or not it has been built).
    public static func cached(_ flavour: Flavour) -> GuestImage {
        let dir = cacheDirectory + "/guest/" + flavour.directoryName
        return GuestImage(kernel: dir + "/vmlinuz", initramfs: dir + "/initramfs.cpio.gz",
                          pvhKernel: flavour.isArm64 ? nil : dir + "/vmlinux", flavour: flavour)
    }

    /// Throws with the fix when the files are missing.
    public func check() throws {
        for path in [kernel, initramfs] where !FileManager.default.fileExists(atPath: path) {
            throw PlatformError.missingFile(path, fix: "build the guest image first: \(flavour.buildCommand)")
        }
    }

    /// Runs `scripts/guest-image` of this source tree for `flavour` (it builds the image into the
    /// cache if it is missing or stale, ~1 minute the first time, and takes ~1 s when it is
    /// current; concurrent callers wait for one build), then `check()`s this image's files.
    public func ensureBuilt() throws {
        let script = try Self.buildScript()
        let arguments = flavour.scriptArguments + ["--print-dir"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        // Its progress and errors (stderr) go where this process's go.
        try process.run()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw PlatformError.launchFailed("\(([script] + arguments).joined(separator: " ")) failed (status \(process.terminationStatus)); see its messages above")
        }
        try check()
    }

    /// `scripts/guest-image` next to these sources, else in the current directory.
    static func buildScript() throws -> String {
        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [sourceRoot.appendingPathComponent("scripts/guest-image").path,
                          FileManager.default.currentDirectoryPath + "/scripts/guest-image"]
        guard let script = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw PlatformError.missingFile(candidates[0], fix: "run from the AVP source tree, or build the image yourself: scripts/guest-image")
        }
        return script
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
