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
        subcommands: [ServeEntropy.self, ServeBlock.self])
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

extension BlockDeviceOptions.CacheMode: ExpressibleByArgument {}

struct ServeBlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block",
        abstract: "virtio-blk back end (VIRTIO 1.2 §5.2) over an image file; AVPS-v2.0-4 to 7.",
        discussion: """
            QEMU example:
              -chardev socket,id=disk,path=PATH -device vhost-user-blk-pci,chardev=disk,num-queues=N
            Offers FLUSH, CONFIG_WCE, DISCARD, WRITE_ZEROES (with UNMAP), SEG_MAX, SIZE_MAX, BLK_SIZE,
            TOPOLOGY, RO and MQ. Statistics are logged when the server stops.
            """)

    @Option(help: "Path of the vhost-user socket to listen on.")
    var socket: String
    @Option(help: "Image file (or host block device) to serve.")
    var file: String
    @Flag(help: "Expose the disk read-only (VIRTIO_BLK_F_RO); writes fail with IOERR.")
    var readOnly = false
    @Option(help: "Serial number returned to GET_ID (at most 20 bytes).")
    var serial = ""
    @Option(help: "Number of request queues (VIRTIO_BLK_F_MQ when more than 1).")
    var queues = 1
    @Option(help: "Initial write cache mode: writeback (flushes make writes stable) or writethrough (every write is stable).")
    var cache = BlockDeviceOptions.CacheMode.writeback
    @Flag(help: "Open the image with O_DIRECT (bypass the host page cache).")
    var direct = false
    @Option(help: "Logical block size shown to the guest: 512, 1024, 2048 or 4096.")
    var blockSize: UInt32 = 512

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        _ = try logging.bootstrap()
        let signals = TerminationSignals()
        let logger = Logger(label: "avp.block")
        var options = BlockDeviceOptions(imagePath: file)
        options.readOnly = readOnly
        options.serial = serial
        options.queueCount = queues
        options.cache = cache
        options.direct = direct
        options.blockSize = blockSize
        let device = try BlockDevice(options: options, logger: logger)
        let server = try VhostUserServer(socketPath: socket, device: device, logger: logger)
        logger.info("\(file): \(device.image.capacitySectors / 2048) MiB, \(queues) queue(s), \(cache), \(readOnly ? "read-only, " : "")\(direct ? "O_DIRECT, " : "")\(device.engineName)")
        try server.start()
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        server.stop()
        logger.notice("statistics: \(device.statistics)")
    }
}
