import CAVPShim
import GuestMemory
import Virtio

/// The driver side of a split virtqueue (VIRTIO 1.2 §2.7) in memory this process
/// owns: what a guest's virtio driver does, so a device can be exercised — and fed
/// malformed chains — without a guest. Transport-free: kicks and interrupts are the
/// caller's (see `DriverQueue`).
public final class DriverRing: @unchecked Sendable {
    public struct UsedElement: Equatable, Sendable {
        public var head: UInt16
        public var length: UInt32
        public init(head: UInt16, length: UInt32) {
            self.head = head
            self.length = length
        }
    }

    public let size: UInt16
    public let addresses: RingAddresses
    private let table: GuestSlice
    private let available: GuestSlice
    private let used: GuestSlice
    private var free: [UInt16]
    private var chains: [UInt16: [UInt16]] = [:]
    public private(set) var availableIndex: UInt16 = 0
    public private(set) var lastUsedIndex: UInt16 = 0

    /// Lays out a ring of `size` entries in memory taken from `allocator`.
    public init(size: UInt16, memory: GuestMemory, allocator: inout GuestAllocator) throws {
        self.size = size
        let n = Int(size)
        let tableAddress = try allocator.allocate(RingAddresses.descriptorTableSize(n), alignment: 16)
        let availableAddress = try allocator.allocate(RingAddresses.availableRingSize(n), alignment: 2)
        let usedAddress = try allocator.allocate(RingAddresses.usedRingSize(n), alignment: 4)
        addresses = RingAddresses(descriptorTable: tableAddress, availableRing: availableAddress, usedRing: usedAddress)
        table = try memory.slice(at: tableAddress, count: RingAddresses.descriptorTableSize(n))
        available = try memory.slice(at: availableAddress, count: RingAddresses.availableRingSize(n))
        used = try memory.slice(at: usedAddress, count: RingAddresses.usedRingSize(n))
        free = Array((0..<size).reversed())
    }

    /// Writes descriptor `i` verbatim (malformed chains included).
    public func writeDescriptor(_ i: UInt16, _ d: Descriptor) throws {
        let offset = Int(i) * Descriptor.size
        try table.store(d.address, at: offset)
        try table.store(d.length, at: offset + 8)
        try table.store(d.flags.rawValue, at: offset + 12)
        try table.store(d.next, at: offset + 14)
    }

    /// Puts `head` in the available ring and publishes it (the index store after the entry, §2.7.13).
    public func publish(head: UInt16) throws {
        try available.store(head, at: 4 + 2 * Int(availableIndex % size))
        avp_fence_release()
        availableIndex &+= 1
        try available.storeAtomicUInt16(availableIndex, at: 2)
    }

    /// Sets the available index directly (for tests of a driver that lies about it).
    public func forceAvailableIndex(_ value: UInt16) throws {
        availableIndex = value
        try available.storeAtomicUInt16(value, at: 2)
    }

    /// Builds a chain of `readable` then `writable` buffers from free descriptors and publishes it.
    @discardableResult
    public func add(readable: [GuestSlice] = [], writable: [GuestSlice] = []) throws -> UInt16 {
        let parts = readable.map { ($0, false) } + writable.map { ($0, true) }
        precondition(!parts.isEmpty && parts.count <= free.count, "no room for a chain of \(parts.count)")
        let indices = (0..<parts.count).map { _ in free.removeLast() }
        for (k, (slice, writable)) in parts.enumerated() {
            var flags: Descriptor.Flags = writable ? [.write] : []
            if k + 1 < parts.count { flags.insert(.next) }
            try writeDescriptor(indices[k], Descriptor(address: slice.guestAddress.raw, length: UInt32(slice.count),
                                                       flags: flags, next: k + 1 < parts.count ? indices[k + 1] : 0))
        }
        chains[indices[0]] = indices
        try publish(head: indices[0])
        return indices[0]
    }

    /// Publishes a chain whose descriptors the caller wrote with `writeDescriptor` (indices `used`).
    public func publishRaw(head: UInt16, descriptors: [UInt16]) throws {
        free.removeAll { descriptors.contains($0) }
        chains[head] = descriptors
        try publish(head: head)
    }

    /// Used entries the device returned since the last call; their descriptors become free again.
    public func collectUsed() throws -> [UsedElement] {
        let usedIndex = try used.loadAtomicUInt16(at: 2)
        avp_fence_acquire()
        var out: [UsedElement] = []
        while lastUsedIndex != usedIndex {
            let slot = 4 + 8 * Int(lastUsedIndex % size)
            let element = UsedElement(head: UInt16(truncatingIfNeeded: try used.load(UInt32.self, at: slot)),
                                      length: try used.load(UInt32.self, at: slot + 4))
            if let indices = chains.removeValue(forKey: element.head) { free += indices }
            out.append(element)
            lastUsedIndex &+= 1
        }
        // Like Linux's virtqueue_enable_cb(): with EVENT_IDX, ask for an interrupt on the next used entry.
        try setUsedEvent(lastUsedIndex)
        return out
    }

    /// The device's used index as it stands in memory.
    public func deviceUsedIndex() throws -> UInt16 { try used.loadAtomicUInt16(at: 2) }

    /// used_event (EVENT_IDX): interrupt me when the used index passes this.
    public func setUsedEvent(_ value: UInt16) throws { try available.storeAtomicUInt16(value, at: 4 + 2 * Int(size)) }

    /// avail_event the device published (EVENT_IDX).
    public func availableEvent() throws -> UInt16 { try used.loadAtomicUInt16(at: 4 + 8 * Int(size)) }

    /// VIRTQ_AVAIL_F_NO_INTERRUPT on or off.
    public func suppressInterrupts(_ on: Bool) throws { try available.storeAtomicUInt16(on ? 1 : 0, at: 0) }
}

/// Hands out aligned, non-overlapping pieces of a guest memory range (a driver's
/// view of its own RAM in tests and simulations).
public struct GuestAllocator: Sendable {
    public private(set) var next: UInt64
    public let end: UInt64

    public init(base: GuestAddress, size: UInt64) {
        next = base.raw
        end = base.raw + size
    }

    public mutating func allocate(_ count: Int, alignment: Int) throws -> GuestAddress {
        let a = UInt64(alignment)
        let start = (next + a - 1) / a * a
        guard start + UInt64(count) <= end else { throw GuestMemoryError.outOfBounds(address: GuestAddress(start), length: UInt64(count)) }
        next = start + UInt64(count)
        return GuestAddress(start)
    }
}
