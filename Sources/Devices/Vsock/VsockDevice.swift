import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// virtio-vsock (VIRTIO 1.2 §5.10) for one VM ({AVPS-v2.0-16}): rx (0), tx (1) and event
/// (2) queues, the guest's CID in configuration space. The device sees queues and packets
/// only, as Firecracker's `device.rs`: it checks and routes what the guest sends and fills
/// the guest's receive buffers.
///
/// Packets to CID 2 go to the `VsockHostSide` (by default `VsockUnixMuxer`: host processes
/// connect to `hostSocketPath` and write `CONNECT <port>\n`; a guest connecting to CID 2
/// port P reaches `<hostSocketPath>_P`), which keeps the per-connection state and credit.
/// Guests reach other VMs through the `VsockRouter` when the platform allows the pair, and
/// get a RST otherwise.
public final class VsockDevice: VirtioDevice, @unchecked Sendable {
    static let receiveQueue = 0, transmitQueue = 1, eventQueue = 2
    /// Receive buffer AVP announces per connection (bytes from the guest not yet written to the host).
    public static let bufferAllocation = VsockConnection.defaultBufferAllocation
    /// Largest payload accepted in one packet from a guest.
    static let maxPayload = 64 * 1024
    /// Packets from other VMs waiting for this guest's receive buffers.
    static let peerInboxLimit = 4096
    /// Packets held outside the rx queue (RST answers, packets from other VMs); RST answers beyond
    /// it are dropped, packets from other VMs wait in the inbox (§5.10.6.1: bounded resources).
    static let outboxLimit = 4096

    public let deviceType = VirtioDeviceType.vsock
    public let queueCount = 3
    public let maxQueueSize: UInt16 = 1024
    public let deviceFeatures: VirtioFeatures = []
    public let configSize = 8
    public let cid: UInt64
    /// The Unix socket host processes connect to (nil with a host side given by the caller).
    public let hostSocketPath: String?

    let router: VsockRouter
    let logger: Logger
    private let host: VsockHostSide
    private let wake: EventFD
    private let peerInbox = Mutex<[VsockPacket]>([])
    private var outbox: [VsockPacket] = []
    private var rx: DeviceQueue?
    private var tx: DeviceQueue?
    private let held = Atomic<Int>(0)
    private let peakHeld = Atomic<Int>(0)

    /// Bytes from the guest held for host processes that have not taken them, now and at most
    /// (sampled after every packet from the guest): bounded by the credit AVP announces.
    public var heldForHost: (now: Int, peak: Int) { (held.load(ordering: .relaxed), peakHeld.load(ordering: .relaxed)) }

    /// A device whose host side is Unix sockets at `hostSocketPath` (see `VsockUnixMuxer`).
    public convenience init(cid: UInt64, hostSocketPath: String, router: VsockRouter, logger: Logger) throws {
        precondition(cid > 2, "CIDs 0 to 2 are reserved")   // checked before the socket is bound too
        try self.init(cid: cid, hostSide: VsockUnixMuxer(guestCID: cid, path: hostSocketPath, logger: logger),
                      hostSocketPath: hostSocketPath, router: router, logger: logger)
    }

    /// A device whose packets to CID 2 go to `hostSide`.
    public convenience init(cid: UInt64, hostSide: VsockHostSide, router: VsockRouter, logger: Logger) throws {
        try self.init(cid: cid, hostSide: hostSide, hostSocketPath: nil, router: router, logger: logger)
    }

    private init(cid: UInt64, hostSide: VsockHostSide, hostSocketPath: String?, router: VsockRouter, logger: Logger) throws {
        precondition(cid > 2, "CIDs 0 to 2 are reserved")
        self.cid = cid
        self.hostSocketPath = hostSocketPath
        self.router = router
        self.logger = logger
        host = hostSide
        wake = try EventFD()
        router.register(self)
    }

    // MARK: VirtioDevice

    public func readConfig(offset: Int, count: Int) -> [UInt8]? {
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: cid >> (8 * UInt64($0))) }
        guard offset >= 0, count >= 0, offset + count <= bytes.count else { return nil }
        return Array(bytes[offset..<offset + count])
    }

    public var eventDescriptors: [Int32] { [wake.rawValue] + host.eventDescriptors }

    public func queueStarted(_ queue: DeviceQueue) {
        if queue.index == Self.receiveQueue { rx = queue } else if queue.index == Self.transmitQueue { tx = queue }
    }

    public func queueStopped(index: Int) {
        if index == Self.receiveQueue { rx = nil } else if index == Self.transmitQueue { tx = nil }
    }

    /// The guest rebooted or its VMM went away: every stream ends.
    public func reset() {
        host.reset()
        held.store(0, ordering: .relaxed)
        outbox = []
        peerInbox.withLock { $0 = [] }
        rx = nil
        tx = nil
    }

    public func process(_ queue: DeviceQueue) {
        if queue.index == Self.transmitQueue { transmit(queue) }
        fillReceiveBuffers()
    }

    public func handleEvent(descriptor: Int32) {
        if descriptor == wake.rawValue {
            wake.drain()
            takeFromPeers()
        } else {
            host.handleEvent(descriptor: descriptor)
            noteHeld()
        }
        fillReceiveBuffers()
    }

    /// A packet from another VM (called on that VM's thread).
    func receiveFromPeer(_ packet: VsockPacket) -> Bool {
        let accepted = peerInbox.withLock { p -> Bool in
            guard p.count < Self.peerInboxLimit else { return false }
            p.append(packet)
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    /// Moves packets from other VMs to the outbox, as many as it has room for.
    private func takeFromPeers() {
        let room = Self.outboxLimit - outbox.count
        guard room > 0 else { return }
        outbox += peerInbox.withLock { p in
            let taken = p.prefix(room)
            p.removeFirst(taken.count)
            return Array(taken)
        }
    }

    // MARK: From the guest

    private func transmit(_ queue: DeviceQueue) {
        repeat {
            while let chain = queue.pop() {
                handle(chain)
                queue.complete(chain, written: 0)
                noteHeld()
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    private func noteHeld() {
        let now = host.heldForHost
        held.store(now, ordering: .relaxed)
        if now > peakHeld.load(ordering: .relaxed) { peakHeld.store(now, ordering: .relaxed) }
    }

    private func handle(_ chain: DescriptorChain) {
        var reader = chain.reader()
        guard let head = try? reader.readBytes(VsockPacket.headerSize), let parsed = VsockPacket.parse(header: head) else {
            logger.warning("vsock cid \(cid): packet shorter than its header dropped")
            return
        }
        var packet = parsed.packet
        let length = parsed.length
        guard Int(length) <= Self.maxPayload, Int(length) <= reader.remaining,
              let payload = try? reader.readBytes(Int(length)) else {
            logger.warning("vsock cid \(cid): packet announcing \(length) payload bytes dropped")
            return
        }
        packet.payload = payload
        // A guest speaks only for itself: a forged source CID is dropped.
        guard packet.sourceCID == cid else {
            logger.warning("vsock cid \(cid): packet claiming source CID \(packet.sourceCID) dropped")
            return
        }
        guard packet.type == VsockPacket.typeStream else {
            if packet.op == .request { answer(.reset(answering: packet)) }
            return
        }
        switch packet.destinationCID {
        case VsockPacket.hostCID:
            host.receive(fromGuest: packet)
        case cid, 0, 1:
            if packet.op != .reset { answer(.reset(answering: packet)) }
        default:
            if !router.forward(packet), packet.op != .reset {
                if packet.op == .request {
                    logger.info("vsock: cid \(cid) may not connect to cid \(packet.destinationCID) port \(packet.destinationPort); refused")
                }
                answer(.reset(answering: packet))
            }
        }
    }

    // MARK: To the guest

    /// A packet the device itself answers with (a RST); dropped when the outbox is full.
    private func answer(_ packet: VsockPacket) {
        guard outbox.count < Self.outboxLimit else { return }
        outbox.append(packet)
    }

    /// Fills the guest's receive buffers: the device's own packets and those of other VMs
    /// first, then the host side's. A buffer is taken only when something goes into it.
    private func fillReceiveBuffers() {
        guard let rx else { return }
        func available() -> Bool { rx.hasAvailable || (rx.rearm() && rx.hasAvailable) }
        while available() {
            if outbox.isEmpty { takeFromPeers() }
            if !outbox.isEmpty {
                guard let chain = rx.pop() else { break }
                var packet = outbox.removeFirst()
                let room = max(0, chain.writableLength - VsockPacket.headerSize)
                if packet.payload.count > room {
                    // Split data larger than the guest's buffer; the rest goes next.
                    var rest = packet
                    rest.payload = Array(packet.payload[room...])
                    packet.payload = Array(packet.payload[..<room])
                    outbox.insert(rest, at: 0)
                }
                deliver(packet, into: chain, on: rx)
                continue
            }
            guard host.hasPacketForGuest(), let chain = rx.pop() else { break }
            let room = max(0, chain.writableLength - VsockPacket.headerSize)
            if let packet = host.nextPacketForGuest(maxPayload: room) {
                deliver(packet, into: chain, on: rx)
            } else {
                rx.complete(chain, written: 0)
            }
        }
        rx.notifyIfNeeded()
    }

    private func deliver(_ packet: VsockPacket, into chain: DescriptorChain, on rx: DeviceQueue) {
        var writer = chain.writer()
        do {
            try writer.write(packet.header)
            try writer.write(packet.payload)
        } catch {
            rx.complete(chain, written: 0)
            return
        }
        rx.complete(chain, written: writer.written)
    }
}
