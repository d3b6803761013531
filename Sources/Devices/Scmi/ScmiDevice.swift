import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// virtio-scmi (VIRTIO 1.2 §5.21) for one VM: an SCMI platform (DEN0056) whose sensors and
/// domains are the VM's `ScmiAgentView` of a server's `ScmiHost`. cmdq (0) carries commands,
/// each answered in its own chain (header echoed, status, payload; §5.21.6.1); eventq (1), with
/// VIRTIO_SCMI_F_P2A_CHANNELS, holds driver buffers the device fills with notifications
/// (SENSOR_UPDATE at each sensor's configured interval; §5.21.6.2).
///
/// A chain too small for a header and status, or without a 4-byte header, comes back with 0
/// bytes written; every other malformed command gets an SCMI error status. Refusals are logged
/// at a sampled rate. Nothing a guest sends allocates beyond its queue's buffers.
public final class ScmiDevice: VirtioDevice, @unchecked Sendable {
    public let deviceType = VirtioDeviceType.scmi
    public let queueCount = 2
    public let deviceFeatures = VirtioFeatures(bit: ScmiCodes.featureP2AChannels)
    public let agent: ScmiAgent
    public var vm: String { agent.view.vm }

    private let logger: Logger
    private let ticker: ScmiTicker
    private let shared = Mutex((statistics: ScmiStatistics(), refusals: LogSampler()))
    // Server-thread state.
    private var p2a = false
    private var eventq: DeviceQueue?
    /// eventq buffers held for notifications, oldest first (at most the queue's size).
    private var held: [DescriptorChain] = []

    public init(view: ScmiAgentView, host: ScmiHost, logger: Logger) throws {
        agent = ScmiAgent(view: view, host: host)
        self.logger = logger
        ticker = try ScmiTicker()
    }

    deinit { ticker.stop() }

    public var statistics: ScmiStatistics { shared.withLock { $0.statistics } }

    // MARK: VirtioDevice (server thread)

    public func acknowledge(features: VirtioFeatures) {
        p2a = features.contains(bit: ScmiCodes.featureP2AChannels)
    }

    public var eventDescriptors: [Int32] { [ticker.event.rawValue] }

    public func queueStarted(_ queue: DeviceQueue) {
        if queue.index == ScmiCodes.eventQueue { eventq = queue }
    }

    public func queueStopped(index: Int) {
        guard index == ScmiCodes.eventQueue else { return }
        eventq = nil
        held = []
    }

    public func reset() {
        eventq = nil
        held = []
        p2a = false
        agent.reset()
        ticker.set(active: false)
    }

    public func process(_ queue: DeviceQueue) {
        switch queue.index {
        case ScmiCodes.commandQueue:
            queue.drain { answer($0) }
            ticker.set(active: agent.notifying)
        case ScmiCodes.eventQueue:
            takeEventBuffers(queue)
            deliver(now: MonotonicClock.nanoseconds())
        default: break
        }
    }

    public func handleEvent(descriptor: Int32) {
        ticker.event.drain()
        deliver(now: MonotonicClock.nanoseconds())
    }

    // MARK: cmdq

    /// Answers one command chain; returns the bytes written.
    func answer(_ chain: DescriptorChain) -> Int {
        var writer = chain.writer()
        let room = writer.remaining
        guard room >= 8 else {
            drop("command \(chain.head): \(ScmiMessageError.noRoomForResponse(writable: room))")
            return 0
        }
        var reader = chain.reader()
        let length = chain.readableLength
        let bytes: [UInt8]
        do { bytes = try reader.readBytes(min(length, 4 + ScmiCodes.maxRequestPayload + 1)) } catch {
            drop("command \(chain.head): \(error)")
            return 0
        }
        guard bytes.count >= 4 else {
            drop("command \(chain.head): \(ScmiMessageError.tooShort(bytes.count))")
            return 0
        }
        let header = ScmiMessageHeader(raw: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        let response: ScmiResponse
        do {
            response = agent.execute(try ScmiCommand.parse(bytes), capacity: room - 8)
        } catch {
            response = ScmiResponse(status: .protocolError, payload: [], refusal: error.description)
        }
        if let refusal = response.refusal {
            shared.withLock { $0.statistics.refused += 1 }
            refuse("\(header.protocolName) message 0x\(String(header.messageID, radix: 16)): \(response.status): \(refusal)")
        }
        shared.withLock { $0.statistics.commands += 1 }
        do { try writer.write(response.bytes(echoing: header)) } catch {
            drop("command \(chain.head): \(error)")
            return 0
        }
        return writer.written
    }

    // MARK: eventq

    private func takeEventBuffers(_ queue: DeviceQueue) {
        repeat {
            while let chain = queue.pop() {
                guard p2a, chain.readableLength == 0, chain.writableLength >= 8 else {
                    refuse("eventq buffer \(chain.head): \(p2a ? "not a device-writable buffer of 8 bytes or more" : "VIRTIO_SCMI_F_P2A_CHANNELS not negotiated")")
                    queue.complete(chain, written: 0)
                    continue
                }
                held.append(chain)
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    /// Puts the due notifications in held buffers; one without a buffer is lost (counted).
    private func deliver(now: UInt64) {
        let messages = agent.dueNotifications(now: now)
        ticker.set(active: agent.notifying)
        guard !messages.isEmpty else { return }
        for message in messages {
            guard let eventq, !held.isEmpty else {
                shared.withLock { $0.statistics.notificationsLost += 1 }
                continue
            }
            let chain = held.removeFirst()
            var writer = chain.writer()
            guard writer.remaining >= message.count, (try? writer.write(message)) != nil else {
                shared.withLock { $0.statistics.notificationsLost += 1 }
                refuse("eventq buffer \(chain.head) of \(chain.writableLength) bytes is too small for a \(message.count)-byte notification")
                eventq.complete(chain, written: 0)
                continue
            }
            eventq.complete(chain, written: message.count)
            shared.withLock { $0.statistics.notifications += 1 }
        }
        eventq?.notifyIfNeeded()
    }

    private func drop(_ message: String) {
        shared.withLock { $0.statistics.dropped += 1 }
        refuse(message)
    }

    private func refuse(_ message: String) {
        let log = shared.withLock { $0.refusals.record() }
        if log { logger.warning("scmi: VM '\(vm)': \(message)") }
    }
}
