import ArgumentParser
import Devices
import Platform
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
            Files a guest creates are owned by the guest's uid and gid as they are (no mapping yet).
            """)

    @OptionGroup var options: FsServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("fs", logging: logging) { logger in
            // Every file a guest knows is an open O_PATH descriptor: as many as the nodes and handles allowed, per VM.
            let vms = max(1, options.endpoints.all.count)
            let limit = OpenFileLimit.raise(to: vms * (PassthroughStore.defaultMaxNodes + PassthroughStore.defaultMaxHandles) + 1024)
            let available = max(0, limit - 1024) / vms
            let handles = min(PassthroughStore.defaultMaxHandles, max(16, available / 16))
            let nodes = max(64, min(PassthroughStore.defaultMaxNodes, available - handles))
            if nodes < PassthroughStore.defaultMaxNodes {
                logger.notice("fs: open files are limited to \(limit): each VM may hold \(nodes) files and \(handles) open handles at once (more with a higher RLIMIT_NOFILE)")
            }
            let servers = try options.endpoints.all.map { endpoint in
                let store = try PassthroughStore(sharedDirectory: options.sharedDir, readOnly: options.readOnly, maxNodes: nodes, maxHandles: handles)
                return try VhostUserServer(endpoint: endpoint, device: FsDevice(store: store, requestQueues: options.requestQueues, logger: logger),
                                           logger: logger)
            }
            logger.info("fs: sharing \(options.sharedDir)\(options.readOnly ? " read-only" : "") with \(servers.count) VM(s)")
            return .init(servers: servers)
        }
    }
}
