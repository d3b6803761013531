import ArgumentParser
import Devices
import VhostUser

struct ServeBlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: BlockServeOptions.command,
        abstract: "virtio-blk back end (VIRTIO 1.2 §5.2) over an image file; AVPS-v2.0-4 to 7.",
        discussion: """
            QEMU example:
              -chardev socket,id=disk,path=PATH
              -device vhost-user-blk-pci,chardev=disk,num-queues=N

            Offers FLUSH, CONFIG_WCE, DISCARD, WRITE_ZEROES (with UNMAP), SEG_MAX, SIZE_MAX, BLK_SIZE, TOPOLOGY, RO and MQ. Statistics are logged when the server stops.
            """)

    @OptionGroup var options: BlockServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("block", logging: logging, sandbox: activeSandbox) { logger in
            let endpoints = options.endpoints.all
            // One open image for every front end: its lock (BlockImageLock) is this server's.
            let image = try BlockDevice.openImage(options.deviceOptions, logger: logger)
            let devices = try endpoints.map { _ in try BlockDevice(options: options.deviceOptions, image: image, logger: logger) }
            let servers = try zip(endpoints, devices).map { try VhostUserServer(endpoint: $0, device: $1, logger: logger) }
            let device = devices[0]
            logger.info("\(options.file): \(device.image.capacitySectors / 2048) MiB, \(options.queues) queue(s), \(options.cache), \(options.readOnly ? "read-only, " : "")\(options.direct ? "O_DIRECT, " : "")\(device.engineName)")
            return .init(servers: servers) {
                for device in devices { logger.notice("statistics: \(device.statistics)") }
            }
        }
    }
}
