import ArgumentParser
import Devices

/// `--size-limit` of `avp serve fs`: whole KiB, written as MemorySize writes sizes (512M, 2G) or
/// as a number of KiB (1536K); the one codec of the plan and the command line.
public struct FsSizeLimit: Sendable, Equatable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }

    public init(parsing text: String) throws {
        if let size = MemorySize(parsing: text) {
            bytes = UInt64(size.mebibytes) << 20
        } else if text.hasSuffix("K") || text.hasSuffix("k"), let kib = UInt64(text.dropLast()), kib > 0, kib <= UInt64.max >> 10 {
            bytes = kib << 10
        } else {
            throw ValidationError("--size-limit \(UserText.quoted(text)): give a size such as 512M, 2G or 1536K")
        }
    }

    public var description: String { bytes & (1 << 20 - 1) == 0 ? "\(bytes >> 20)M" : "\(bytes >> 10)K" }
}

/// `avp serve fs`: a shared directory as virtio-fs (VIRTIO 1.2 §5.11) for one VM per endpoint,
/// read-only or read-write, with uid/gid mappings, sandboxed unless told otherwise.
public struct FsServeOptions: EndpointServeOptions {
    public static let command = "fs"

    /// How the server is confined once it has opened what it needs (every kind's `--sandbox`).
    public typealias Sandbox = SandboxMode

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("The host directory the guests see (every name resolved inside it).", valueName: "directory"))
    public var sharedDir: String
    @Flag(help: "Refuse every change with EROFS.")
    public var readOnly = false
    @Option(help: "Request queues, as QEMU's num-request-queues (1 to 16; default 1).")
    public var requestQueues = 1
    @Option(help: ArgumentHelp("Guest uids GUEST..GUEST+COUNT-1 are host uids HOST..: e.g. 0:100000:65536 (repeatable; none: the same ids). "
        + "Host uids outside every range show as 65534.", valueName: "GUEST:HOST:COUNT"))
    public var uidMap: [String] = []
    @Option(help: ArgumentHelp("The same for gids.", valueName: "GUEST:HOST:COUNT"))
    public var gidMap: [String] = []
    @Option(help: ArgumentHelp("The most the share may hold, as allocated blocks (e.g. 512M, 2G): writes past it get ENOSPC, "
        + "and the guest's df shows it as the size. Kept by the server from a walk of the share at start, per VM.", valueName: "size"),
            transform: FsSizeLimit.init(parsing:))
    public var sizeLimit: FsSizeLimit?
    @Option(help: ArgumentHelp("The most files, directories and symlinks the share may hold (ENOSPC past it).", valueName: "count"))
    public var inodeLimit: UInt64?
    @Option(help: "namespace (default): own namespaces, a root holding only the share, few capabilities, a seccomp allow-list; none: no sandbox.")
    public var sandbox: Sandbox = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints, sharedDir: String, readOnly: Bool, requestQueues: Int = 1,
                owners: FsOwnerMapping = .identity, limits: FsShareLimits = .none, sandbox: Sandbox = .namespace) {
        self = .with {
            $0.endpoints = endpoints
            $0.sharedDir = sharedDir
            $0.readOnly = readOnly
            $0.requestQueues = requestQueues
            $0.uidMap = owners.uids.arguments
            $0.gidMap = owners.gids.arguments
            $0.sizeLimit = limits.bytes.map { FsSizeLimit(bytes: ($0 >> 10) << 10) }
            $0.inodeLimit = limits.inodes
            $0.sandbox = sandbox
        }
    }

    /// The mappings the options give (`validate` has checked they parse).
    public var owners: FsOwnerMapping {
        get throws { FsOwnerMapping(uids: try IdMap(parsing: uidMap), gids: try IdMap(parsing: gidMap)) }
    }

    /// The limits the options give.
    public var limits: FsShareLimits { FsShareLimits(bytes: sizeLimit?.bytes, inodes: inodeLimit) }

    public var arguments: [String] {
        endpoints.arguments + ["--shared-dir", sharedDir] + (readOnly ? ["--read-only"] : []) + ["--request-queues", String(requestQueues)]
            + uidMap.flatMap { ["--uid-map", $0] } + gidMap.flatMap { ["--gid-map", $0] } + (sizeLimit.map { ["--size-limit", $0.description] } ?? []) + (inodeLimit.map { ["--inode-limit", String($0)] } ?? [])
            + ["--sandbox", sandbox.rawValue]
    }

    public func validate() throws {
        try endpoints.requireSome()
        if !(1...16).contains(requestQueues) { throw ValidationError("--request-queues is 1 to 16") }
        if sharedDir.isEmpty { throw ValidationError("--shared-dir names the directory to share") }
        if inodeLimit == 0 { throw ValidationError("--inode-limit must be at least 1") }
        do { _ = try IdMap(parsing: uidMap) } catch { throw ValidationError("--uid-map: \(error)") }
        do { _ = try IdMap(parsing: gidMap) } catch { throw ValidationError("--gid-map: \(error)") }
    }
}
