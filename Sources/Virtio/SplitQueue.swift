import CAVPShim
import GuestMemory

/// The device side of a split virtqueue (VIRTIO 1.2 §2.7): takes available
/// descriptor chains, returns used ones, and decides when the driver needs an
/// interrupt. Confined to one thread; holds no file descriptors or sockets.
public final class SplitQueue: @unchecked Sendable {
    public let size: UInt16
    public private(set) var addresses: RingAddresses
    /// VIRTIO_F_EVENT_IDX negotiated (§2.7.10).
    public let eventIndex: Bool
    /// VIRTIO_F_INDIRECT_DESC negotiated (§2.7.5.3).
    public let indirectDescriptors: Bool
    /// The device was not told which ring features the driver accepted (QEMU's cryptodev-vhost
    /// forwards none): indirect tables are taken, avail_event is kept current in case the driver
    /// uses EVENT_IDX, and every used buffer is signalled unless the driver set NO_INTERRUPT —
    /// right whichever the driver chose, at the cost of interrupts EVENT_IDX would have saved.
    public let driverFeaturesUnknown: Bool
    /// Next available-ring entry to take (free-running, wraps at 2^16).
    public private(set) var nextAvailable: UInt16
    /// Next used-ring entry to fill (free-running).
    public private(set) var nextUsed: UInt16

    /// The guest RAM the rings (and the buffers they name) live in.
    public private(set) var memory: GuestMemory
    private var table: GuestSlice
    private var available: GuestSlice
    private var used: GuestSlice
    /// Used index when the driver was last notified, for EVENT_IDX suppression.
    private var signalledUsed: UInt16?
    /// Inflight tracking (vhost-user's INFLIGHT_SHMFD), when the transport attached a region.
    public private(set) var inflight: InflightQueueRegion?
    /// Heads an earlier back end left in flight, still to be handed out, last first.
    private var resubmissions: [UInt16] = []
    /// Counter stamped on the next head taken (orders heads in the inflight region).
    private var inflightCounter: UInt64 = 0
    /// Heads taken (or handed over for resubmission) and not yet returned.
    private var held: HeldHeads

    // Offsets inside the rings (§2.7.6, §2.7.8).
    private static let flagsOffset = 0
    private static let indexOffset = 2
    private static let ringOffset = 4
    private static let availableNoInterrupt: UInt16 = 1

    public init(size: UInt32, addresses: RingAddresses, memory: GuestMemory, features: VirtioFeatures,
                nextAvailable: UInt16 = 0, driverFeaturesUnknown: Bool = false) throws(QueueError) {
        guard size >= 1, size <= 32768, size & (size - 1) == 0 else { throw .invalidSize(size) }
        self.size = UInt16(size)
        self.addresses = addresses
        self.driverFeaturesUnknown = driverFeaturesUnknown
        eventIndex = features.contains(.ringEventIndex) && !driverFeaturesUnknown
        indirectDescriptors = features.contains(.ringIndirectDescriptors) || driverFeaturesUnknown
        self.nextAvailable = nextAvailable
        self.memory = memory
        held = HeldHeads(size: Int(size))
        (table, available, used) = try Self.map(addresses, size: Int(size), memory: memory)
        // Continue the used ring where it stands in guest memory (zero for a fresh queue): after a
        // back-end restart the front end's base may be ahead of it by requests that were lost.
        nextUsed = (try? used.loadAtomicUInt16(at: Self.indexOffset)) ?? nextAvailable
    }

    /// Re-maps the rings after the memory table (or the ring location) changed; indices are kept.
    public func rebind(addresses: RingAddresses, memory: GuestMemory) throws(QueueError) {
        (table, available, used) = try Self.map(addresses, size: Int(size), memory: memory)
        self.addresses = addresses
        self.memory = memory
    }

    private static func map(_ a: RingAddresses, size: Int, memory: GuestMemory) throws(QueueError) -> (GuestSlice, GuestSlice, GuestSlice) {
        func part(_ name: String, _ address: GuestAddress, _ count: Int, align: UInt64) throws(QueueError) -> GuestSlice {
            guard address.raw % align == 0 else { throw .misaligned(part: name, address: address) }
            do { return try memory.slice(at: address, count: count) } catch { throw .ringUnmapped(part: name, error) }
        }
        return (try part("descriptor table", a.descriptorTable, RingAddresses.descriptorTableSize(size), align: 16),
                try part("available ring", a.availableRing, RingAddresses.availableRingSize(size), align: 2),
                try part("used ring", a.usedRing, RingAddresses.usedRingSize(size), align: 4))
    }

    /// The driver's available index, read once; later reads of ring entries are ordered after it.
    private func availableIndex() -> UInt16 {
        let index = (try? available.loadAtomicUInt16(at: Self.indexOffset)) ?? nextAvailable
        avp_fence_acquire()
        return index
    }

    /// Requests the driver has made available and the device has not yet taken (resubmissions included).
    public func pendingCount() throws(QueueError) -> Int {
        try resubmissions.count + availablePending()
    }

    private func availablePending() throws(QueueError) -> Int {
        let index = availableIndex()
        let pending = index &- nextAvailable
        guard pending <= size else {
            throw .availableIndexJump(available: index, nextAvailable: nextAvailable, size: size)
        }
        return Int(pending)
    }

    /// Takes the next available head, or nil if none. The chain is walked separately
    /// (`chain(at:)`) so a malformed chain can still be returned to the driver.
    public func popHead() throws(QueueError) -> UInt16? {
        if let head = resubmissions.popLast() { return head }
        guard try availablePending() > 0 else { return nil }
        let slot = Int(nextAvailable % size)
        let head: UInt16
        do { head = try available.load(UInt16.self, at: Self.ringOffset + 2 * slot) } catch {
            throw .ringUnmapped(part: "available ring", error)
        }
        guard head < size else { throw .headOutOfRange(head: head, size: size) }
        // VIRTIO 1.2 §2.7: a buffer made available belongs to the device until it is used. Taking the head again
        // would return it twice, and the second return would complete whatever the driver put there next.
        guard held.insert(head) else { throw .headInUse(head: head, availableIndex: nextAvailable) }
        nextAvailable &+= 1
        if let inflight {
            inflight.markTaken(head, counter: inflightCounter)
            inflightCounter &+= 1
        }
        return head
    }

    /// Walks the chain whose head the driver made available.
    public func chain(at head: UInt16) throws(ChainError) -> DescriptorChain {
        try DescriptorChain.walk(head: head, table: table, tableSize: Int(size), memory: memory,
                                 indirectAllowed: indirectDescriptors)
    }

    /// Puts `head` in the used ring with `length` bytes written and publishes the new used index
    /// (the index store is ordered after the element, §2.7.8).
    public func addUsed(head: UInt16, length: UInt32) {
        held.remove(head)
        inflight?.beginReturn(head)
        let slot = Int(nextUsed % size)
        let offset = Self.ringOffset + 8 * slot
        // The offsets are inside `used` by construction (slot < size).
        try? used.store(UInt32(head), at: offset)
        try? used.store(length, at: offset + 4)
        avp_fence_release()
        nextUsed &+= 1
        try? used.storeAtomicUInt16(nextUsed, at: Self.indexOffset)
        inflight?.endReturn(head, ringUsed: nextUsed)
    }

    /// Tracks taken heads in `region` from now on, after recovering what it holds: heads still
    /// in flight come out of `popHead` first, oldest first, and the available ring is read from
    /// after them (used index + heads resubmitted: every head taken before is either used or
    /// resubmitted). Call once, before the first `popHead`.
    @discardableResult
    public func attachInflight(_ region: InflightQueueRegion) throws(QueueError) -> InflightRecovery {
        let recovery = try region.recover(ringSize: Int(size), ringUsed: nextUsed)
        inflight = region
        resubmissions = recovery.heads.reversed()
        for head in recovery.heads { _ = held.insert(head) }
        inflightCounter = recovery.nextCounter
        if !recovery.fresh { nextAvailable = nextUsed &+ UInt16(recovery.heads.count) }
        return recovery
    }

    /// Asks the driver for a kick on the next buffer and reports whether buffers
    /// arrived meanwhile (so the caller processes them instead of sleeping).
    public func enableNotifications() throws(QueueError) -> Bool {
        if eventIndex || driverFeaturesUnknown {
            // avail_event: the used ring's trailing field (§2.7.10).
            try? used.storeAtomicUInt16(nextAvailable, at: Self.ringOffset + 8 * Int(size))
        }
        avp_fence_full()
        return try pendingCount() > 0
    }

    /// Whether the driver wants an interrupt for the used buffers added since the last one.
    public func needsNotification() -> Bool {
        avp_fence_full()
        if eventIndex {
            // used_event: the available ring's trailing field; vring_need_event() of §2.7.10.
            let usedEvent = (try? available.loadAtomicUInt16(at: Self.ringOffset + 2 * Int(size))) ?? 0
            let new = nextUsed
            defer { signalledUsed = new }
            guard let old = signalledUsed else { return true }
            return (new &- usedEvent &- 1) < (new &- old)
        }
        let flags = (try? available.loadAtomicUInt16(at: Self.flagsOffset)) ?? 0
        return flags & Self.availableNoInterrupt == 0
    }
}
