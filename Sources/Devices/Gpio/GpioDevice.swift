import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// virtio-gpio (VIRTIO 1.2 §5.17) for one VM: the lines of its `GpioLineMap`, renumbered from 0,
/// on a `GpioBlock` other VMs may share. requestq (0) carries GET_LINE_NAMES, GET/SET_DIRECTION,
/// GET/SET_VALUE and SET_IRQ_TYPE; eventq (1) holds one driver buffer per unmasked line, returned
/// when the line's interrupt fires (VIRTIO_GPIO_F_IRQ). A read-only line is an input for this VM:
/// output and SET_VALUE get VIRTIO_GPIO_STATUS_ERR. Every malformed request gets ERR (or its
/// buffer back unused), with a rate-limited log line; nothing a guest sends allocates beyond one
/// held buffer per line.
///
/// Host-side changes (the block's listeners run on any thread) are queued per line and an
/// eventfd wakes the server thread, which raises the interrupts.
public final class GpioDevice: VirtioDevice, GpioLineListener, @unchecked Sendable {
    public let deviceType = VirtioDeviceType.gpio
    public let queueCount = 2
    public let deviceFeatures = VirtioFeatures(bit: GpioCodes.featureIRQ)
    public let configSize = GpioConfigurationSpace.size
    public let vm: String
    public let map: GpioLineMap
    public let block: GpioBlock

    private struct Shared {
        /// Each guest line's changes not yet applied, oldest first (a few: edges only latch).
        var pending: [Int: [Bool]] = [:]
        var statistics = GpioStatistics()
        var refusals = LogSampler()
    }

    /// Changes kept per line between two wake-ups: enough for a rising and a falling edge.
    static let pendingPerLine = 4

    private let logger: Logger
    private let config: GpioConfigurationSpace
    private let shared = Mutex(Shared())
    private let wake: EventFD
    /// Guest lines of each block line.
    private let guestLines: [Int: [Int]]
    // Server-thread state.
    private var irqNegotiated = false
    private var directions: [GpioDirection]
    /// SET_VALUE's value for each line, used when it becomes an output (§5.17.6.1).
    private var outputs: [Bool]
    private var interrupts: [GpioInterruptLine<DescriptorChain>]
    private var eventq: DeviceQueue?

    public init(vm: String, map: GpioLineMap, block: GpioBlock, logger: Logger) throws {
        self.vm = vm
        self.map = map
        self.block = block
        self.logger = logger
        config = GpioConfigurationSpace(lineCount: map.lines.count, namesSize: map.namesBlock.count)
        wake = try EventFD()
        var lines: [Int: [Int]] = [:]
        for (i, line) in map.lines.enumerated() { lines[line.blockLine, default: []].append(i) }
        guestLines = lines
        directions = Array(repeating: .input, count: map.lines.count)
        outputs = Array(repeating: false, count: map.lines.count)
        interrupts = Array(repeating: GpioInterruptLine(), count: map.lines.count)
        block.addListener(self)
    }

    deinit { block.removeListener(self) }

    public var statistics: GpioStatistics { shared.withLock { $0.statistics } }

    // MARK: Host side (any thread)

    func lineChanged(_ line: Int, to value: Bool) {
        guard let mine = guestLines[line] else { return }
        shared.withLock { s in
            for l in mine {
                s.pending[l, default: []].append(value)
                if s.pending[l]!.count > Self.pendingPerLine { s.pending[l]!.removeFirst() }
            }
        }
        wake.signal()
    }

    // MARK: VirtioDevice (server thread)

    public func readConfig(offset: Int, count: Int) -> [UInt8]? { config.read(offset: offset, count: count) }

    public func acknowledge(features: VirtioFeatures) {
        irqNegotiated = features.contains(bit: GpioCodes.featureIRQ)
    }

    public var eventDescriptors: [Int32] { [wake.rawValue] }

    public func queueStarted(_ queue: DeviceQueue) {
        if queue.index == GpioCodes.eventQueue { eventq = queue }
    }

    public func queueStopped(index: Int) {
        guard index == GpioCodes.eventQueue else { return }
        eventq = nil
        for i in interrupts.indices { interrupts[i].forget() }
    }

    /// Back to the initial state: every line an input that this VM no longer drives.
    public func reset() {
        eventq = nil
        for (i, line) in map.lines.enumerated() {
            interrupts[i].forget()
            interrupts[i] = GpioInterruptLine()
            if directions[i] == .output { try? block.drive(line: line.blockLine, .input, vm: vm) }
        }
        directions = Array(repeating: .input, count: map.lines.count)
        outputs = Array(repeating: false, count: map.lines.count)
        irqNegotiated = false
        shared.withLock { $0.pending = [:] }
    }

    public func process(_ queue: DeviceQueue) {
        switch queue.index {
        case GpioCodes.requestQueue: queue.drain { answer($0) }
        case GpioCodes.eventQueue: takeEventBuffers(queue)
        default: break
        }
        eventq?.notifyIfNeeded()
    }

    public func handleEvent(descriptor: Int32) {
        wake.drain()
        let pending = shared.withLock { s -> [Int: [Bool]] in
            defer { s.pending = [:] }
            return s.pending
        }
        for (line, values) in pending.sorted(by: { $0.key < $1.key }) {
            for value in values { finish(interrupts[line].changed(to: value)) }
        }
        eventq?.notifyIfNeeded()
    }

    // MARK: requestq

    /// Answers one request; returns the bytes written.
    func answer(_ chain: DescriptorChain) -> Int {
        var writer = chain.writer()
        guard writer.remaining >= 1 else {
            refuse("request \(chain.head) has no writable byte for its status")
            return 0
        }
        var status = GpioStatus.ok
        var payload: [UInt8] = [0]
        var expected = GpioRequest.responseSize
        do {
            let bytes: [UInt8]
            if chain.readableLength == GpioRequest.size {
                var reader = chain.reader()
                do { bytes = try reader.readBytes(GpioRequest.size) } catch { throw GpioRequestError.wrongSize(0) }
            } else {
                throw GpioRequestError.wrongSize(chain.readableLength)
            }
            let request = try GpioRequest.parse(bytes, lineCount: map.lines.count, irq: irqNegotiated)
            expected = request.responseSize(namesSize: map.namesBlock.count)
            guard writer.remaining >= expected else { throw GpioRequestError.responseTooSmall(writer.remaining, needed: expected) }
            payload = try execute(request)
        } catch {
            status = .error
            payload = [UInt8](repeating: 0, count: expected - 1)
            shared.withLock { $0.statistics.errors += 1 }
            refuse("request \(chain.head): \(error)")
        }
        shared.withLock { $0.statistics.requests += 1 }
        let response = ([status.rawValue] + payload).prefix(writer.remaining)
        do { try writer.write(Array(response)) } catch {
            refuse("request \(chain.head): \(error)")
            return 0
        }
        return writer.written
    }

    /// Carries out a parsed request; the response's value bytes.
    private func execute(_ request: GpioRequest) throws(GpioRequestError) -> [UInt8] {
        switch request {
        case .getLineNames:
            return map.namesBlock
        case let .getDirection(line):
            return [directions[line].rawValue]
        case let .getValue(line):
            return [block.value(of: map.lines[line].blockLine) ? 1 : 0]
        case let .setValue(line, value):
            guard !map.lines[line].readOnly else { throw .readOnly(line: line) }
            outputs[line] = value
            if directions[line] == .output { try block.drive(line: map.lines[line].blockLine, .output(value), vm: vm) }
        case let .setDirection(line, direction):
            try setDirection(line, direction)
        case let .setIRQType(line, trigger):
            guard directions[line] != .output else { throw .irqOnOutput(line: line) }
            finish(interrupts[line].setTrigger(trigger, level: block.value(of: map.lines[line].blockLine)))
        }
        return [0]
    }

    private func setDirection(_ line: Int, _ direction: GpioDirection) throws(GpioRequestError) {
        let target = map.lines[line]
        switch direction {
        case .output:
            guard !target.readOnly else { throw .readOnly(line: line) }
            try block.drive(line: target.blockLine, .output(outputs[line]), vm: vm)
            finish(interrupts[line].release())
        case .input:
            if !target.readOnly, directions[line] == .output { try block.drive(line: target.blockLine, .input, vm: vm) }
        case .none:
            // §5.17.6: the device discards the line's state.
            if !target.readOnly, directions[line] == .output { try block.drive(line: target.blockLine, .input, vm: vm) }
            outputs[line] = false
            finish(interrupts[line].release())
        }
        directions[line] = direction
    }

    // MARK: eventq

    private func takeEventBuffers(_ queue: DeviceQueue) {
        while let chain = queue.pop() {
            do {
                guard irqNegotiated else { throw GpioRequestError.irqNotNegotiated }
                guard chain.readableLength == GpioIRQRequest.size else { throw GpioRequestError.wrongSize(chain.readableLength) }
                var reader = chain.reader()
                let bytes: [UInt8]
                do { bytes = try reader.readBytes(GpioIRQRequest.size) } catch { throw GpioRequestError.wrongSize(0) }
                let line = try GpioIRQRequest.parse(bytes, writable: chain.writableLength, lineCount: map.lines.count)
                finish(interrupts[line].unmask(chain, level: block.value(of: map.lines[line].blockLine)))
            } catch {
                refuse("eventq buffer \(chain.head): \(error)")
                complete(chain, .invalid, on: queue)
            }
            if !queue.hasAvailable { _ = queue.rearm() }
        }
    }

    /// Returns a buffer the interrupt state handed back.
    private func finish(_ outcome: GpioInterruptLine<DescriptorChain>.Outcome?) {
        guard let outcome, let eventq else { return }
        switch outcome {
        case let .valid(chain):
            shared.withLock { $0.statistics.interrupts += 1 }
            complete(chain, .valid, on: eventq)
        case let .invalid(chain):
            complete(chain, .invalid, on: eventq)
        }
    }

    private func complete(_ chain: DescriptorChain, _ status: GpioIRQStatus, on queue: DeviceQueue) {
        var writer = chain.writer()
        guard writer.remaining >= GpioIRQRequest.responseSize, (try? writer.write([status.rawValue])) != nil else {
            queue.complete(chain, written: 0)
            return
        }
        queue.complete(chain, written: GpioIRQRequest.responseSize)
    }

    private func refuse(_ message: String) {
        let log = shared.withLock { $0.refusals.record() }
        if log { logger.warning("gpio: VM '\(vm)': \(message)") }
    }
}
