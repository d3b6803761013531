import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// virtio-input (VIRTIO 1.2 §5.8): the eventq (0) carries events to the driver, one
/// `virtio_input_event` per buffer; the statusq (1) carries the driver's events back (LEDs),
/// which this device consumes and ignores. Configuration space describes the device
/// (`InputDeviceDescription`: name, IDs, event codes, axis ranges) through select/subsel.
///
/// Events come from the host through `inject`, from any thread, a frame at a time. They wait
/// in a bounded backlog (`InputBacklog`) and an eventfd wakes the server thread, which moves
/// them into the driver's buffers as buffers become available. A guest that stops taking
/// events loses the oldest frames, never more memory; one that hands over malformed buffers
/// gets them back unused.
public final class InputDevice: VirtioDevice, @unchecked Sendable {
    static let eventQueue = 0, statusQueue = 1
    /// Events the backlog holds at most (about 170 frames of a moving touch, 6 events each).
    public static let backlogLimit = 1024
    /// The longest frame `inject` takes, in events with its SYN_REPORT.
    public static let maxFrameEvents = 128

    public let deviceType = VirtioDeviceType.input
    public let queueCount = 2
    public let deviceFeatures: VirtioFeatures = []
    public let configSize = InputConfigurationSpace.size
    public let description: InputDeviceDescription

    private struct Shared {
        var backlog = InputBacklog(limit: InputDevice.backlogLimit)
        /// The eventq runs: frames are kept for it (set on the server thread, read by injectors).
        var accepting = false
        var statistics = InputStatistics()
        var drops = LogSampler()
        var refusals = LogSampler()
    }

    private let logger: Logger
    private let shared = Mutex(Shared())
    private let wake: EventFD
    // Server-thread state.
    private var config: InputConfigurationSpace
    private var eventq: DeviceQueue?
    /// The rest of the frame being delivered: taken from the backlog whole, so never dropped half-way.
    private var current: ArraySlice<InputEvent> = []

    public init(description: InputDeviceDescription, logger: Logger) throws {
        self.description = description
        self.logger = logger
        config = InputConfigurationSpace(description: description)
        wake = try EventFD()
    }

    public var statistics: InputStatistics { shared.withLock { $0.statistics } }

    // MARK: Host side (any thread)

    /// What became of a frame given to `inject`.
    public enum Injection: Sendable, Equatable {
        case queued
        /// Queued; this many older frames were dropped to make room (the guest is not taking its events).
        case queuedDroppingOlder(Int)
        /// Dropped: no driver runs the eventq (a guest that boots later must not see old touches).
        case noDriver
        /// Dropped: longer than `maxFrameEvents`.
        case tooLong

        /// The frame is on its way to the guest.
        public var reachesGuest: Bool {
            switch self {
            case .queued, .queuedDroppingOlder: true
            case .noDriver, .tooLong: false
            }
        }
    }

    /// Queues one frame for the guest: `events` followed by SYN_REPORT unless they end with one.
    @discardableResult
    public func inject(_ events: [InputEvent]) -> Injection {
        guard !events.isEmpty else { return .queued }
        let frame = events.last == .synReport ? events : events + [.synReport]
        guard frame.count <= Self.maxFrameEvents else {
            logger.warning("input: a frame of \(frame.count) events is over \(Self.maxFrameEvents); dropped")
            return .tooLong
        }
        let (outcome, droppedSoFar) = shared.withLock { s -> (Injection, Int?) in
            guard s.accepting else {
                s.statistics.framesWithoutDriver += 1
                return (.noDriver, nil)
            }
            let dropped = s.backlog.append(frame)
            s.statistics.framesQueued += 1
            guard dropped > 0 else { return (.queued, nil) }
            s.statistics.framesDropped += dropped
            var log = false
            for _ in 0..<dropped where s.drops.record() { log = true }
            return (.queuedDroppingOlder(dropped), log ? s.statistics.framesDropped : nil)
        }
        if let droppedSoFar {
            logger.warning("input: the guest is not taking its events; dropped the oldest frames (\(droppedSoFar) so far)")
        }
        if outcome.reachesGuest { wake.signal() }
        return outcome
    }

    // MARK: VirtioDevice (server thread)

    public func readConfig(offset: Int, count: Int) -> [UInt8]? { config.read(offset: offset, count: count) }

    public func writeConfig(offset: Int, bytes: [UInt8]) -> Bool { config.write(offset: offset, bytes: bytes) }

    public var eventDescriptors: [Int32] { [wake.rawValue] }

    public func queueStarted(_ queue: DeviceQueue) {
        guard queue.index == Self.eventQueue else { return }
        eventq = queue
        shared.withLock { $0.accepting = true }
    }

    public func queueStopped(index: Int) {
        guard index == Self.eventQueue else { return }
        stopEvents()
    }

    public func reset() {
        stopEvents()
        config.reset()
    }

    public func process(_ queue: DeviceQueue) {
        if queue.index == Self.statusQueue { consumeStatus(queue) }
        deliver()
    }

    public func handleEvent(descriptor: Int32) {
        wake.drain()
        deliver()
    }

    // MARK: Delivery

    /// The eventq is gone: events for it are stale.
    private func stopEvents() {
        eventq = nil
        current = []
        shared.withLock {
            $0.accepting = false
            $0.backlog.removeAll()
        }
    }

    /// Moves events into the driver's buffers, one per buffer, while both last. A frame leaves
    /// the backlog only when a buffer is there for its first event.
    private func deliver() {
        guard let eventq else { return }
        while !current.isEmpty || shared.withLock({ !$0.backlog.isEmpty }) {
            guard eventq.hasAvailable || (eventq.rearm() && eventq.hasAvailable) else { break }
            if current.isEmpty {
                guard let frame = shared.withLock({ $0.backlog.takeFrame() }) else { break }
                current = frame[...]
            }
            guard let chain = eventq.pop() else { break }
            let written = write(current.first!, into: chain)
            if written > 0 {
                current.removeFirst()
                // Counted before the buffer is used: whoever sees it used sees it counted.
                shared.withLock { $0.statistics.eventsDelivered += 1 }
            }
            eventq.complete(chain, written: written)
        }
        eventq.notifyIfNeeded()
    }

    /// Writes `event` into a device-writable buffer of at least 8 bytes; 0 for any other buffer.
    private func write(_ event: InputEvent, into chain: DescriptorChain) -> Int {
        guard chain.readableLength == 0, chain.writableLength >= InputEvent.size else {
            refuse("eventq buffer \(chain.head) (\(chain.readableLength) readable, \(chain.writableLength) writable bytes) "
                + "cannot take an event of \(InputEvent.size) bytes")
            return 0
        }
        var writer = chain.writer()
        do { try writer.write(event.bytes) } catch {
            refuse("eventq buffer \(chain.head): \(error)")
            return 0
        }
        return writer.written
    }

    /// The driver's events (§5.8.6.2: LED and other status), one per buffer: counted, ignored.
    private func consumeStatus(_ queue: DeviceQueue) {
        queue.drain { chain in
            var reader = chain.reader()
            if chain.readableLength == InputEvent.size, chain.writableLength == 0,
               let bytes = try? reader.readBytes(InputEvent.size), InputEvent(bytes: bytes) != nil {
                shared.withLock { $0.statistics.statusEvents += 1 }
            } else {
                refuse("statusq buffer \(chain.head) (\(chain.readableLength) readable, \(chain.writableLength) writable bytes) "
                    + "is not one event of \(InputEvent.size) bytes")
            }
            return 0
        }
    }

    private func refuse(_ message: String) {
        let log = shared.withLock { s -> Bool in
            s.statistics.buffersRefused += 1
            return s.refusals.record()
        }
        if log { logger.warning("input: \(message); returned unused") }
    }
}
