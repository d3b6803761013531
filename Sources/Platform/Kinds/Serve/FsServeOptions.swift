import ArgumentParser
import Devices

/// `avp serve fs`: a shared directory as virtio-fs (VIRTIO 1.2 §5.11) for one VM per endpoint,
/// read-only or read-write, with uid/gid mappings, sandboxed unless told otherwise.
public struct FsServeOptions: EndpointServeOptions {
    public static let command = "fs"

    /// How the server is confined once it has opened what it needs.
    public enum Sandbox: String, CaseIterable, Sendable, ExpressibleByArgument {
        /// Own PID, mount, network and IPC namespaces; a root holding only the share; few capabilities; seccomp.
        case namespace
        /// None: for debugging, or where namespaces are not allowed.
        case none
    }

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
    @Option(help: "namespace (default): own namespaces, a root holding only the share, few capabilities, a seccomp allow-list; none: no sandbox.")
    public var sandbox: Sandbox = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints, sharedDir: String, readOnly: Bool, requestQueues: Int = 1,
                owners: FsOwnerMapping = .identity, sandbox: Sandbox = .namespace) {
        self = .with {
            $0.endpoints = endpoints
            $0.sharedDir = sharedDir
            $0.readOnly = readOnly
            $0.requestQueues = requestQueues
            $0.uidMap = owners.uids.arguments
            $0.gidMap = owners.gids.arguments
            $0.sandbox = sandbox
        }
    }

    /// The mappings the options give (`validate` has checked they parse).
    public var owners: FsOwnerMapping {
        get throws { FsOwnerMapping(uids: try IdMap(parsing: uidMap), gids: try IdMap(parsing: gidMap)) }
    }

    public var arguments: [String] {
        endpoints.arguments + ["--shared-dir", sharedDir] + (readOnly ? ["--read-only"] : []) + ["--request-queues", String(requestQueues)]
            + uidMap.flatMap { ["--uid-map", $0] } + gidMap.flatMap { ["--gid-map", $0] } + ["--sandbox", sandbox.rawValue]
    }

    public func validate() throws {
        try endpoints.requireSome()
        if !(1...16).contains(requestQueues) { throw ValidationError("--request-queues is 1 to 16") }
        if sharedDir.isEmpty { throw ValidationError("--shared-dir names the directory to share") }
        do { _ = try IdMap(parsing: uidMap) } catch { throw ValidationError("--uid-map: \(error)") }
        do { _ = try IdMap(parsing: gidMap) } catch { throw ValidationError("--gid-map: \(error)") }
    }
}
