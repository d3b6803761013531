import ArgumentParser
import Devices
import VhostUser

struct ServeEntropy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: EntropyServeOptions.command,
        abstract: "virtio-rng back end (VIRTIO 1.2 §5.4) fed by getrandom(2); AVPS-v2.0-40/41.",
        discussion: """
            QEMU example:
              -chardev socket,id=rng,path=PATH -device vhost-user-rng-pci,chardev=rng

            Guest RAM must be shared with the server:
              -object memory-backend-memfd,id=mem,size=512M,share=on
              -machine memory-backend=mem
            """)

    @OptionGroup var options: EntropyServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("entropy", logging: logging, sandbox: activeSandbox) { logger in
            // One device and one worker thread per front end (vhost-user is one-to-one).
            .init(servers: try options.endpoints.all.map {
                try VhostUserServer(endpoint: $0, device: EntropyDevice(logger: logger), logger: logger)
            })
        }
    }
}
