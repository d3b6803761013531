import ArgumentParser
import Devices

extension BlockDeviceOptions.CacheMode: ExpressibleByArgument {}

/// `avp serve block`: an image file for one front end, or read-only for several.
public struct BlockServeOptions: EndpointServeOptions {
    public static let command = "block"
    public static let blockSizes: [UInt32] = [512, 1024, 2048, 4096]

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: "Image file (or host block device) to serve.")
    public var file: String
    @Flag(help: "Expose the disk read-only (VIRTIO_BLK_F_RO); writes fail with IOERR.")
    public var readOnly = false
    @Option(help: "Serial number returned to GET_ID (at most 20 bytes).")
    public var serial = ""
    @Option(help: "Number of request queues, 1 to 64 (VIRTIO_BLK_F_MQ when more than 1).")
    public var queues = 1
    @Option(help: "Initial write cache mode: writeback (flushes make writes stable) or writethrough (every write is stable).")
    public var cache = BlockDeviceOptions.CacheMode.writeback
    @Flag(help: "Open the image with O_DIRECT (bypass the host page cache).")
    public var direct = false
    @Option(help: "Logical block size shown to the guest: 512, 1024, 2048 or 4096.")
    public var blockSize: UInt32 = 512

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints, options: BlockDeviceOptions) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.file = options.imagePath
            $0.readOnly = options.readOnly
            $0.serial = options.serial
            $0.queues = options.queueCount
            $0.cache = options.cache
            $0.direct = options.direct
            $0.blockSize = options.blockSize
        }
    }

    /// The device's options, as `BlockDevice` takes them.
    public var deviceOptions: BlockDeviceOptions {
        var options = BlockDeviceOptions(imagePath: file)
        options.readOnly = readOnly
        options.serial = serial
        options.queueCount = queues
        options.cache = cache
        options.direct = direct
        options.blockSize = blockSize
        return options
    }

    public var arguments: [String] {
        var a = endpoints.arguments + ["--file", file, "--queues", String(queues), "--cache", cache.rawValue]
        if readOnly { a.append("--read-only") }
        if direct { a.append("--direct") }
        if !serial.isEmpty { a += ["--serial", serial] }
        if blockSize != 512 { a += ["--block-size", String(blockSize)] }
        return a + sandbox.arguments
    }

    public func validate() throws {
        try endpoints.requireSome()
        if endpoints.all.count > 1, !readOnly {
            throw ValidationError("a writable image can be served to one front end only; add --read-only to share it")
        }
        if !PlatformLimits.blockQueues.contains(queues) {
            throw ValidationError("--queues \(queues): use \(PlatformLimits.blockQueues.lowerBound) to \(PlatformLimits.blockQueues.upperBound)")
        }
        if !Self.blockSizes.contains(blockSize) {
            throw ValidationError("--block-size \(blockSize): use 512, 1024, 2048 or 4096")
        }
    }
}
