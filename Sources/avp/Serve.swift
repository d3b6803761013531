import ArgumentParser
import Devices
import Logging
import Platform
import VhostUser

/// `avp serve <device>`: one device back end on a vhost-user socket, like other
/// vhost-user device daemons, for any VMM.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a device back end on a vhost-user socket.",
        subcommands: [ServeEntropy.self])
}

struct ServeEntropy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entropy",
        abstract: "virtio-rng back end (VIRTIO 1.2 §5.4) fed by getrandom(2); AVPS-v2.0-40/41.",
        discussion: """
            QEMU example:
              -chardev socket,id=rng,path=PATH -device vhost-user-rng-pci,chardev=rng
            with guest RAM shared: -object memory-backend-memfd,id=mem,size=512M,share=on -machine memory-backend=mem
            """)

    @Option(help: "Path of the vhost-user socket to listen on.")
    var socket: String

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        _ = try logging.bootstrap()
        let signals = TerminationSignals()
        let logger = Logger(label: "avp.entropy")
        let server = try VhostUserServer(socketPath: socket, device: EntropyDevice(logger: logger), logger: logger)
        try server.start()
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        server.stop()
    }
}
