import ArgumentParser
import Foundation
import Devices
import Logging
import Platform
import VhostUser

/// `avp serve <device>`: one device back end on a vhost-user socket, like other
/// vhost-user device daemons, for any VMM.
///
/// In the help texts, each paragraph of a discussion is one line, which ArgumentParser
/// wraps to the terminal; a hard line break inside a sentence would be wrapped again and
/// leave a ragged stub. Example lines are indented and fit in 80 columns (HelpTextTests).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a device back end on a vhost-user socket.",
        subcommands: [ServeEntropy.self, ServeBlock.self, ServeConsole.self, ServeSwitch.self, ServeVsock.self])
}

struct ServeEntropy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entropy",
        abstract: "virtio-rng back end (VIRTIO 1.2 §5.4) fed by getrandom(2); AVPS-v2.0-40/41.",
        discussion: """
            QEMU example:
              -chardev socket,id=rng,path=PATH -device vhost-user-rng-pci,chardev=rng

            Guest RAM must be shared with the server:
              -object memory-backend-memfd,id=mem,size=512M,share=on
              -machine memory-backend=mem
            """)

    @OptionGroup var endpoints: EndpointOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        _ = try logging.bootstrap()
        let signals = TerminationSignals()
        let logger = Logger(label: "avp.entropy")
        // One device and one worker thread per front end (vhost-user is one-to-one).
        let servers = try endpoints.all.map { try VhostUserServer(endpoint: $0, device: EntropyDevice(logger: logger), logger: logger) }
        for server in servers { try server.start() }
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        StopDeadline.arm(what: "avp serve")
        VhostUserServer.stopAll(servers)
    }
}

extension BlockDeviceOptions.CacheMode: ExpressibleByArgument {}

struct ServeBlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block",
        abstract: "virtio-blk back end (VIRTIO 1.2 §5.2) over an image file; AVPS-v2.0-4 to 7.",
        discussion: """
            QEMU example:
              -chardev socket,id=disk,path=PATH
              -device vhost-user-blk-pci,chardev=disk,num-queues=N

            Offers FLUSH, CONFIG_WCE, DISCARD, WRITE_ZEROES (with UNMAP), SEG_MAX, SIZE_MAX, BLK_SIZE, TOPOLOGY, RO and MQ. Statistics are logged when the server stops.
            """)

    @OptionGroup var endpoints: EndpointOptions
    @Option(help: "Image file (or host block device) to serve.")
    var file: String
    @Flag(help: "Expose the disk read-only (VIRTIO_BLK_F_RO); writes fail with IOERR.")
    var readOnly = false
    @Option(help: "Serial number returned to GET_ID (at most 20 bytes).")
    var serial = ""
    @Option(help: "Number of request queues, 1 to 64 (VIRTIO_BLK_F_MQ when more than 1).")
    var queues = 1
    @Option(help: "Initial write cache mode: writeback (flushes make writes stable) or writethrough (every write is stable).")
    var cache = BlockDeviceOptions.CacheMode.writeback
    @Flag(help: "Open the image with O_DIRECT (bypass the host page cache).")
    var direct = false
    @Option(help: "Logical block size shown to the guest: 512, 1024, 2048 or 4096.")
    var blockSize: UInt32 = 512

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if endpoints.all.count > 1, !readOnly {
            throw ValidationError("a writable image can be served to one front end only; add --read-only to share it")
        }
        if !PlatformLimits.blockQueues.contains(queues) {
            throw ValidationError("--queues \(queues): use \(PlatformLimits.blockQueues.lowerBound) to \(PlatformLimits.blockQueues.upperBound)")
        }
        if ![512, 1024, 2048, 4096].contains(blockSize) {
            throw ValidationError("--block-size \(blockSize): use 512, 1024, 2048 or 4096")
        }
    }

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
        let devices = try endpoints.all.map { _ in try BlockDevice(options: options, logger: logger) }
        let servers = try zip(endpoints.all, devices).map { try VhostUserServer(endpoint: $0, device: $1, logger: logger) }
        let device = devices[0]
        logger.info("\(file): \(device.image.capacitySectors / 2048) MiB, \(queues) queue(s), \(cache), \(readOnly ? "read-only, " : "")\(direct ? "O_DIRECT, " : "")\(device.engineName)")
        for server in servers { try server.start() }
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        StopDeadline.arm(what: "avp serve")
        VhostUserServer.stopAll(servers)
        for device in devices { logger.notice("statistics: \(device.statistics)") }
    }
}

struct ServeConsole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Host side of a VM's text console (AVPS-v2.0-47): log file plus attachable socket.",
        discussion: """
            The guest's virtio console port 0 (hvc0) is QEMU's virtconsole on a virtio-serial device whose chardev connects to --socket:
              -device virtio-serial-pci,id=vs0
              -chardev socket,id=hvc0,path=SOCKET
              -device virtconsole,chardev=hvc0,nr=0,bus=vs0.0

            Everything the guest writes is appended to --log; `avp console` (or socat) attaches to --attach.
            """)

    @Option(help: "Socket the VMM's console chardev connects to.") var socket: String
    @Option(help: "Socket interactive clients attach to.") var attach: String
    @Option(help: "Log file that receives all console output.") var log: String
    @Option(help: ArgumentHelp("Also serve AVP's own virtio-console device (multiport, console on port 0) on this "
        + "vhost-user socket, for VMMs with a vhost-user console front end; its stream goes to the same log and clients.",
                               valueName: "socket"))
    var vhostUser: String?
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        _ = try logging.bootstrap()
        let signals = TerminationSignals()
        let logger = Logger(label: "avp.console")
        let hub = try ConsoleHub(guestSocket: socket, attachSocket: attach, logPath: log, logger: logger)
        try hub.start()
        let device = try vhostUser.map { path in
            try VhostUserServer(socketPath: path, device: ConsoleDevice(hostSocket: socket, logger: logger), logger: logger)
        }
        try device?.start()
        logger.info("console: guest on \(socket), clients on \(attach), log \(log)")
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        StopDeadline.arm(what: "avp serve console")
        device?.stop()
        hub.stop()
    }
}

/// Where a device server meets its VMMs: sockets it listens on, or VMM sockets it connects to.
struct EndpointOptions: ParsableArguments {
    @Option(help: "A vhost-user socket to listen on (the VMM connects); repeat to serve several VMs from one process.")
    var socket: [String] = []
    @Option(help: ArgumentHelp("A VMM's listening vhost-user socket to connect to, and to reconnect to when the VMM restarts "
        + "(QEMU: -chardev socket,server=on,wait=on); repeatable.", valueName: "socket"))
    var connect: [String] = []

    var all: [VhostUserServer.Endpoint] { socket.map { .listen($0) } + connect.map { .connect($0) } }

    func validate() throws {
        if all.isEmpty { throw ValidationError("give at least one --socket or --connect") }
    }
}
