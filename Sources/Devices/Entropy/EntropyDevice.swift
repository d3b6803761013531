import GuestMemory
import Logging
import SystemCalls
import Virtio

/// virtio-rng (VIRTIO 1.2 §5.4): one request queue whose device-writable buffers
/// are filled from the kernel CSPRNG (getrandom(2)). The AVPS entropy source
/// ({AVPS-v2.0-40}, {AVPS-v2.0-41}). No feature bits, no configuration space.
public final class EntropyDevice: VirtioDevice, @unchecked Sendable {
    /// Most bytes handed out per request: bounds the time one request holds the
    /// worker thread; the driver asks again for more (§5.4.6.2 lets the device write less).
    public static let maxBytesPerRequest = 64 * 1024

    public let deviceType = VirtioDeviceType.entropy
    public let queueCount = 1
    public let deviceFeatures: VirtioFeatures = []
    public let maxQueueSize: UInt16 = 1024

    private let logger: Logger
    public private(set) var bytesServed: UInt64 = 0

    public init(logger: Logger = Logger(label: "avp.entropy")) {
        self.logger = logger
    }

    public func process(_ queue: DeviceQueue) {
        queue.drain { chain in fill(chain) }
    }

    /// Writes random bytes into the chain; returns how many.
    func fill(_ chain: DescriptorChain) -> Int {
        // §5.4.6.1: the driver MUST NOT place driver-readable buffers into the queue.
        guard chain.readableLength == 0 else {
            logger.warning("entropy request \(chain.head) has \(chain.readableLength) device-readable bytes; refused")
            return 0
        }
        var writer = chain.writer()
        let count = min(writer.remaining, Self.maxBytesPerRequest)
        do {
            for slice in try writer.slices(count) {
                try slice.withUnsafeMutableBytes { (buffer) throws(Errno) in try SystemRandom.fill(buffer) }
            }
        } catch {
            logger.error("entropy request \(chain.head): \(error)")
            return 0
        }
        bytesServed &+= UInt64(count)
        return count
    }
}
