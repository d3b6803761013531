import GuestMemory
import Logging
import Synchronization
import Virtio

/// virtio-i2c (VIRTIO 1.2 §5.16): one requestq (0); VIRTIO_I2C_F_ZERO_LENGTH_REQUEST offered
/// (§5.16.3: mandatory), no configuration space. Each request is one message of an I2C transfer
/// (`I2cRequest`); requests chained with FAIL_NEXT form one transaction, run on the VM's `I2cBus`
/// with a repeated START between its messages.
///
/// Grouping, as §5.16.6.2 asks: requests are taken in order; a group ends at a request without
/// FAIL_NEXT, or at the last request the driver has made available — Linux queues a transfer's
/// requests before it kicks, and when the ring is full it kicks the ones it could queue (the
/// last with FAIL_NEXT) and waits for them: holding an unfinished group would hang it. The
/// first failed request of a group is answered VIRTIO_I2C_MSG_ERR and so is every later one of
/// its group (§5.16.6.2: the device MAY; AVP always does, never running them). A group longer
/// than `maxMessagesPerTransaction` fails whole, as i2c-dev's I2C_RDWR refuses one.
///
/// Never trusted: a malformed request (short header, reserved flags, 10-bit address, buffer in
/// the wrong direction, over `I2cRequest.maxLength`) or one for an address this VM was not given
/// is answered VIRTIO_I2C_MSG_ERR — or returned with nothing written when it has no status
/// byte — and logged through a `LogSampler`.
public final class I2cDevice: VirtioDevice, @unchecked Sendable {
    /// VIRTIO_I2C_F_ZERO_LENGTH_REQUEST (§5.16.3).
    public static let zeroLengthRequest = VirtioFeatures(bit: 0)
    /// I2C_RDWR_IOCTL_MAX_MSGS: the most messages one transaction has.
    public static let maxMessagesPerTransaction = 42

    public let deviceType = VirtioDeviceType.i2c
    public let queueCount = 1
    public let deviceFeatures: VirtioFeatures = I2cDevice.zeroLengthRequest

    public let bus: I2cBus
    private let logger: Logger
    private let counters = Mutex(I2cStatistics())
    // Queue-thread state.
    private var refusals = LogSampler()

    public init(bus: I2cBus, logger: Logger) {
        self.bus = bus
        self.logger = logger
    }

    public var statistics: I2cStatistics { counters.withLock { $0 } }

    public func process(_ queue: DeviceQueue) {
        var group: [(chain: DescriptorChain, message: I2cMessage)] = []
        // The group's earlier request failed: later ones with FAIL_NEXT before them fail unrun.
        var failing = false
        repeat {
            while let chain = queue.pop() {
                var reader = chain.reader()
                let header = (try? reader.readBytes(min(I2cRequest.headerSize, chain.readableLength))) ?? []
                let failNext = I2cRequest.failNext(header: header)
                if failing {
                    answer(chain, data: nil, queue)
                    failing = failNext
                    continue
                }
                do throws(I2cRequestError) {
                    let request = try I2cRequest(header: header, readableLength: chain.readableLength,
                                                 writableLength: chain.writableLength)
                    guard bus.allows(request.address) else { throw .addressNotAllowed(request.address) }
                    let message: I2cMessage
                    switch request.direction {
                    case let .read(count): message = .read(request.address, count)
                    case let .write(count):
                        // The chain's lengths were checked; reading them cannot fail.
                        guard let bytes = try? reader.readBytes(count) else { throw .headerTooShort(readable: chain.readableLength) }
                        message = .write(request.address, bytes)
                    }
                    group.append((chain, message))
                    if !request.failNext {
                        run(&group, queue)
                    } else if group.count == Self.maxMessagesPerTransaction {
                        refuse(chain, "a transfer of more than \(Self.maxMessagesPerTransaction) messages")
                        for member in group { answer(member.chain, data: nil, queue) }
                        group = []
                        failing = true
                    }
                } catch {
                    // The group's valid requests before this one run first, as they would have in order.
                    run(&group, queue)
                    refuse(chain, error.description)
                    answer(chain, data: nil, queue)
                    failing = failNext
                }
            }
        } while queue.rearm()
        run(&group, queue)
        queue.notifyIfNeeded()
    }

    /// Runs the group as one transaction and answers each of its requests.
    private func run(_ group: inout [(chain: DescriptorChain, message: I2cMessage)], _ queue: DeviceQueue) {
        guard !group.isEmpty else { return }
        let results = bus.transfer(group.map(\.message))
        counters.withLock { $0.transactions += 1 }
        for (i, member) in group.enumerated() {
            answer(member.chain, data: i < results.count ? results[i] : nil, queue)
        }
        group = []
    }

    /// Completes a request: `data` is a success (the bytes read, empty for a write), nil a failure.
    private func answer(_ chain: DescriptorChain, data: [UInt8]?, _ queue: DeviceQueue) {
        guard chain.writableLength >= I2cRequest.statusSize else {
            counters.withLock { $0.failed += 1 }
            queue.complete(chain, written: 0)
            return
        }
        var writer = chain.writer()
        let before = chain.writableLength - I2cRequest.statusSize
        let succeeded = data?.count == before
        do {
            if succeeded, let data {
                try writer.write(data)
            } else if before > 0 {
                // A failed read: the driver MUST NOT use the buffer (§5.16.6.1); only the status is written.
                _ = try writer.slices(before)
            }
            try writer.write(succeeded ? I2cRequest.statusOK : I2cRequest.statusError)
        } catch {
            refuse(chain, "cannot answer: \(error)")
            queue.complete(chain, written: 0)
            return
        }
        counters.withLock { if succeeded { $0.succeeded += 1 } else { $0.failed += 1 } }
        queue.complete(chain, written: writer.written)
    }

    private func refuse(_ chain: DescriptorChain, _ reason: String) {
        counters.withLock { $0.refused += 1 }
        if refusals.record() {
            logger.warning("i2c: request \(chain.head) refused (\(refusals.count) so far): \(reason)")
        }
    }
}
