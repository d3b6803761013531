import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// One VM's network interface on an `EthernetSwitch`: a virtio-net device (VIRTIO 1.2
/// §5.1; receiveq 0, transmitq 1 — QEMU's virtio-net model keeps MAC, status and the
/// control queue itself) that checks every frame the VM sends against the port's
/// policy and hands it to the switch, and fills the VM's receive buffers with frames
/// other ports sent it.
public final class SwitchPort: VirtioDevice, @unchecked Sendable {
    static let receiveQueue = 0
    static let transmitQueue = 1
    /// Frames taken from the transmit queue before the thread turns to other work.
    static let transmitBudget = 64

    public let deviceType = VirtioDeviceType.network
    public let queueCount = 2
    public let maxQueueSize: UInt16 = 1024
    public let deviceFeatures: VirtioFeatures = [NetFeature.mtu]
    public let policy: NetPortPolicy

    private let fabric: EthernetSwitch
    private var id = 0
    private let logger: Logger
    private let inbox = FrameInbox()
    /// Signalled when frames arrive for this port, or when transmit work was left for later.
    private let wake: EventFD
    private var rx: DeviceQueue?
    private var tx: DeviceQueue?
    private let stats = Mutex(NetPortCounters())
    /// Source MAC of the VM's latest accepted frame (kept as a number: formatting it per frame would cost more than switching).
    private let lastSource = Atomic<UInt64>(0)

    public init(policy: NetPortPolicy, switch fabric: EthernetSwitch, logger: Logger) throws {
        self.policy = policy
        self.fabric = fabric
        self.logger = logger
        wake = try EventFD()
        lastSource.store(policy.mac.value, ordering: .relaxed)
        id = fabric.register(self)
    }

    public var counters: NetPortCounters {
        var c = stats.withLock { $0 }
        (c.backlogFrames, c.backlogBytes, c.peakBacklogBytes) = inbox.depth
        c.currentMAC = MACAddress(value: lastSource.load(ordering: .relaxed)).description
        return c
    }

    // MARK: VirtioDevice

    public var eventDescriptors: [Int32] { [wake.rawValue] }

    public func queueStarted(_ queue: DeviceQueue) {
        if queue.index == Self.receiveQueue { rx = queue } else if queue.index == Self.transmitQueue { tx = queue }
    }

    public func queueStopped(index: Int) {
        if index == Self.receiveQueue { rx = nil } else if index == Self.transmitQueue { tx = nil }
    }

    public func reset() {
        rx = nil
        tx = nil
        inbox.removeAll()
        fabric.forget(port: id)
    }

    public func process(_ queue: DeviceQueue) {
        if queue.index == Self.transmitQueue { transmit(queue) } else if queue.index == Self.receiveQueue { receive() }
    }

    public func handleEvent(descriptor: Int32) {
        wake.drain()
        receive()
        if let tx { transmit(tx) }
    }

    // MARK: From the VM

    private func transmit(_ queue: DeviceQueue) {
        var taken = 0
        var woken: [SwitchPort] = []
        defer {
            // One wake-up per destination and batch, not per frame.
            for port in woken { port.wake.signal() }
        }
        repeat {
            while taken < Self.transmitBudget, let chain = queue.pop() {
                taken += 1
                for port in accept(chain) where !woken.contains(where: { $0 === port }) { woken.append(port) }
                queue.complete(chain, written: 0)
            }
            if taken >= Self.transmitBudget {
                // Fair share used: let the thread serve other events, come back through `wake`.
                queue.notifyIfNeeded()
                wake.signal()
                return
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    /// Checks a frame from the VM and hands it to the switch; returns the ports it was queued for.
    private func accept(_ chain: DescriptorChain) -> [SwitchPort] {
        let length = chain.readableLength - NetHeader.size
        guard length >= 14 else {
            stats.withLock { $0.droppedMalformed += 1 }
            return []
        }
        guard length <= policy.maxFrameLength else {
            stats.withLock { $0.droppedOversize += 1 }
            return []
        }
        var reader = chain.reader()
        guard (try? reader.skip(NetHeader.size)) != nil, let frame = try? reader.readBytes(length) else {
            stats.withLock { $0.droppedMalformed += 1 }
            return []
        }
        let source = MACAddress(frame, at: 6)
        guard policy.permits(source: source) else {
            let dropped = stats.withLock { s -> Int in s.droppedSourceMAC += 1; return s.droppedSourceMAC }
            if dropped <= 4 || dropped & (dropped - 1) == 0 {
                logger.warning("port \(policy.name): frame from \(source) dropped: the policy allows only \(policy.mac) (\(dropped) so far)")
            }
            return []
        }
        stats.withLock { s in
            s.framesFromGuest += 1
            s.bytesFromGuest += frame.count
        }
        lastSource.store(source.value, ordering: .relaxed)
        return fabric.forward(frame, from: id, source: source)
    }

    // MARK: To the VM

    /// Called by the switch on the sender's thread; true if the frame was queued (the
    /// sender then wakes this port once for its whole batch).
    func deliver(_ frame: [UInt8], from sender: Int) -> Bool {
        guard frame.count <= policy.maxFrameLength else {
            stats.withLock { $0.droppedOversize += 1 }
            return false
        }
        guard inbox.put(frame, from: sender) else {
            stats.withLock { $0.droppedBacklog += 1 }
            return false
        }
        return true
    }

    /// Moves waiting frames into the VM's receive buffers (this port's thread). A frame is
    /// taken from the inbox only when a buffer is there for it.
    private func receive() {
        guard let rx else { return }
        // Out of buffers: ask for a kick when the driver adds some (EVENT_IDX), then look once more.
        func haveBuffer() -> Bool { rx.hasAvailable || (rx.rearm() && rx.hasAvailable) }
        while !inbox.isEmpty, haveBuffer(), let (_, frame) = inbox.take(), let chain = rx.pop() {
            guard chain.writableLength >= NetHeader.size + frame.count else {
                stats.withLock { $0.droppedTooSmallBuffer += 1 }
                rx.complete(chain, written: 0)
                continue
            }
            var writer = chain.writer()
            do {
                try writer.write(NetHeader.received)
                try writer.write(frame)
            } catch {
                rx.complete(chain, written: 0)
                continue
            }
            rx.complete(chain, written: writer.written)
            stats.withLock { s in
                s.framesToGuest += 1
                s.bytesToGuest += frame.count
            }
        }
        rx.notifyIfNeeded()
    }
}
