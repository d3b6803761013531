import ArgumentParser
import Devices
import VhostUser

/// `avp serve vsock`: virtio-vsock for several VMs, host streams and VM-to-VM policy.
struct ServeVsock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: VsockServeOptions.command,
        abstract: "virtio-vsock back end (VIRTIO 1.2 §5.10) for several VMs; AVPS-v2.0-16.",
        discussion: """
            Each --vm is one guest, given as comma-separated key=value pairs:
              name=NAME,cid=N,listen=SOCKET|connect=SOCKET,uds=PATH

            Host processes reach guest port P by connecting to PATH and writing "CONNECT P\\n"; a guest's connection to CID 2 port P reaches the Unix socket PATH_P. --allow A:B lets VMs A and B connect to each other; every other VM-to-VM connection is refused (RST).

            QEMU example:
              -chardev socket,id=v0,path=SOCKET -device vhost-user-vsock-pci,chardev=v0
            """)

    @OptionGroup var options: VsockServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("vsock", logging: logging, sandbox: activeSandbox) { logger in
            let router = VsockRouter(allowedPairs: try options.allowedCIDPairs())
            let servers = try options.vm.map { vm in
                try VhostUserServer(endpoint: vm.endpoint,
                                    device: VsockDevice(cid: vm.cid, hostSocketPath: vm.hostSocket, router: router, logger: logger),
                                    logger: logger)
            }
            logger.info("vsock for \(options.vm.map { "\($0.name) (cid \($0.cid))" }.joined(separator: ", ")); allowed pairs: \(options.allow)")
            return .init(servers: servers)
        }
    }
}
