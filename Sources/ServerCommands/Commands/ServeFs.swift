import ArgumentParser
import Devices
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemCalls
import VhostUser

struct ServeFs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: FsServeOptions.command,
        abstract: "virtio-fs back end (VIRTIO 1.2 §5.11; AVPS-v2.0-50): a host directory as the guests' file system.",
        discussion: """
            QEMU example:
              -chardev socket,id=fs,path=PATH
              -device vhost-user-fs-pci,chardev=fs,tag=share,queue-size=1024
            In the guest: mount -t virtiofs share /mnt

            Guest RAM must be shared with the server (memory-backend-memfd with share=on). Every name the guest uses is \
            opened relative to its parent's descriptor without following symlinks, so nothing outside the shared directory \
            is reachable through it; symlinks are the guest's to resolve. With --read-only every change is refused (EROFS). \
            Files a guest creates are owned by its uid and gid through --uid-map/--gid-map (the same ids without them).

            Sandbox (default --sandbox namespace; needs root): once its sockets' directories and the share are known, the \
            server forks into new PID, mount, network and IPC namespaces, pivots into a read-only root holding only the \
            share, its own /proc and its sockets' directories, keeps the capabilities chown, dac_override, \
            dac_read_search, fowner and fsetid, and installs a seccomp allow-list (no exec, no sockets but Unix ones). \
            See docs/fs-threat-model.md.
            """)

    @OptionGroup var options: FsServeOptions
    @OptionGroup var logging: LoggingOptions

    /// What the guest's requests need of root: owning files for their uids, and acting on any file in the share.
    static let keptCapabilities: [ServerSandbox.Capability] = [.chown, .dacOverride, .dacReadSearch, .fowner, .fsetid]

    func run() throws {
        let owners = try options.owners
        try ServeLifecycle.run("fs", logging: logging) { logger in
            // A file a guest knows holds an O_PATH descriptor until too many are open; then the least recently used are
            // closed and reopened from file handles. Open files for I/O hold one each. Both are bounded per VM.
            let vms = max(1, options.endpoints.all.count)
            let limit = OpenFileLimit.raise(to: vms * (PassthroughStore.defaultMaxOpenNodes + PassthroughStore.defaultMaxHandles) + 1024)
            let available = max(0, limit - 1024) / vms
            let handles = min(PassthroughStore.defaultMaxHandles, max(16, available / 16))
            let openNodes = max(64, min(PassthroughStore.defaultMaxOpenNodes, available - handles))
            if openNodes < PassthroughStore.defaultMaxOpenNodes {
                logger.info("fs: open files are limited to \(limit): each VM keeps at most \(openNodes) files open at once (others are reopened by file handle) and \(handles) open for I/O")
            }
            var endpoints = options.endpoints.all
            var share = options.sharedDir
            if options.sandbox == .namespace {
                let directories = Self.socketDirectories(endpoints)
                try ServerSandbox.isolate(sandboxProfile)
                try ServerSandbox.pivot(share: share, readOnly: options.readOnly, socketDirectories: directories.list)
                endpoints = endpoints.map { directories.inside($0) }
                share = ServerSandbox.sharePath
            }
            let servers = try endpoints.map { endpoint in
                let store = try PassthroughStore(sharedDirectory: share, readOnly: options.readOnly, maxOpenNodes: openNodes, maxHandles: handles,
                                                  limits: options.readOnly ? .none : options.limits)
                let device = FsDevice(store: store, requestQueues: options.requestQueues, owners: owners, logger: logger)
                return try VhostUserServer(endpoint: endpoint, device: device, logger: logger)
            }
            if options.sandbox == .namespace {
                try ServerSandbox.restrict(sandboxProfile)
            }
            let sandboxed = options.sandbox == .namespace ? "sandboxed" : "not sandboxed"
            let mapping = owners == .identity ? "" : ", uids \(owners.uids), gids \(owners.gids)"
            let limits = options.limits
            let limited = limits.isNone ? "" : ", limited to \(limits.bytes.map { "\($0 >> 10) KiB" } ?? "any size") and \(limits.inodes.map { "\($0) inodes" } ?? "any number of inodes")"
            logger.info("fs: sharing \(options.sharedDir)\(options.readOnly ? " read-only" : "") with \(servers.count) VM(s), \(sandboxed)\(mapping)\(limited)")
            return .init(servers: servers)
        }
    }

    /// The distinct directories of the endpoints' sockets, and each endpoint's path inside the sandbox.
    struct SocketDirectories {
        var list: [String] = []
        var index: [String: Int] = [:]

        func inside(_ endpoint: VhostUserServer.Endpoint) -> VhostUserServer.Endpoint {
            let url = URL(fileURLWithPath: endpoint.path)
            let path = ServerSandbox.socketDirectory(index[url.deletingLastPathComponent().path]!) + "/" + url.lastPathComponent
            switch endpoint {
            case .listen: return .listen(path)
            case .connect: return .connect(path)
            }
        }
    }

    static func socketDirectories(_ endpoints: [VhostUserServer.Endpoint]) -> SocketDirectories {
        var result = SocketDirectories()
        for endpoint in endpoints {
            let dir = URL(fileURLWithPath: endpoint.path).deletingLastPathComponent().path
            if result.index[dir] == nil {
                result.index[dir] = result.list.count
                result.list.append(dir)
            }
        }
        return result
    }
}
