import Logging
import SystemCalls
import Virtio

/// Pass-through of some addresses of a host I2C adapter (`/dev/i2c-N`) to one VM: each
/// transaction becomes one I2C_RDWR (`I2cDevFile`), so a write-then-read keeps its repeated
/// START. Only `allowed` addresses pass, whatever reaches it; a failed ioctl fails the whole
/// transaction (i2c-dev does not say which message was not acknowledged).
public final class HostI2cBus: I2cBusProvider, @unchecked Sendable {
    public let path: String
    public let allowed: Set<I2cAddress>
    private let adapter: any I2cTransfers
    private let logger: Logger
    private var failures = LogSampler()

    public init(path: String, adapter: any I2cTransfers, allowed: Set<I2cAddress>, logger: Logger) {
        self.path = path
        self.adapter = adapter
        self.allowed = allowed
        self.logger = logger
    }

    /// Opens the host adapter at `path` (`I2cDevFile`).
    public convenience init(path: String, allowed: Set<I2cAddress>, logger: Logger) throws(Errno) {
        self.init(path: path, adapter: try I2cDevFile(path: path), allowed: allowed, logger: logger)
    }

    public func transfer(_ messages: [I2cMessage]) -> [[UInt8]] {
        // Messages for other addresses never reach the host bus: the prefix before one runs alone.
        let passing = messages.prefix { allowed.contains($0.address) }
        guard !passing.isEmpty, passing.count <= I2cDevFile.maxSegments else { return [] }
        var segments = passing.map { message in
            switch message.operation {
            case let .read(count): I2cSegment(address: UInt16(message.address.value), isRead: true, data: [UInt8](repeating: 0, count: count))
            case let .write(bytes): I2cSegment(address: UInt16(message.address.value), isRead: false, data: bytes)
            }
        }
        do {
            try adapter.transfer(&segments)
        } catch {
            if failures.record() {
                logger.notice("i2c: host bus \(path): transaction to \(Set(passing.map(\.address)).sorted()) failed (\(failures.count) so far): \(error)")
            }
            return []
        }
        return segments.map { $0.isRead ? $0.data : [] }
    }
}
