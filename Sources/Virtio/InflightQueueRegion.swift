import GuestMemory

/// One virtqueue's share of the inflight-tracking region (vhost-user.rst, "Inflight I/O
/// tracking", split virtqueue layout `QueueRegionSplit`): the heads a device has taken from
/// the available ring and not yet returned, each with a counter that records the order it
/// was taken in. The front end keeps the memory while the back end restarts, so a new back
/// end can resubmit what the old one left unfinished (`InflightRecovery`).
///
/// Layout (little-endian): a 16-byte header {features u64, version u16, desc_num u16,
/// last_batch_head u16, used_idx u16} then `desc_num` 16-byte entries {inflight u8,
/// padding[5], next u16, counter u64}. Every byte belongs to the front end and is read as
/// untrusted: accesses are bounds-checked and a value is never used as an index unchecked.
/// A view: copies share the memory.
public struct InflightQueueRegion: @unchecked Sendable {
    public static let headerSize = 16
    public static let entrySize = 16
    /// The only layout version defined; 0 means "never used" (a fresh, zeroed region).
    public static let currentVersion: UInt16 = 1

    /// Bytes one queue's region takes for `queueSize` descriptors: 16 · n + 2 rounded up to 64,
    /// which always leaves room for the 16-byte header. It is the size libvhost-user lays
    /// regions out with, so a region is interchangeable between the two back ends.
    public static func size(queueSize: Int) -> Int { (entrySize * queueSize + 2 + 63) / 64 * 64 }

    public let memory: GuestSlice
    /// Entries the region holds (the queue size it was made for).
    public let descriptorCount: Int

    private enum Offset {
        static let features = 0, version = 8, descriptorNumber = 10, lastBatchHead = 12, usedIndex = 14
        static let inflight = 0, next = 6, counter = 8
    }

    public init(memory: GuestSlice, descriptorCount: Int) throws(QueueError) {
        guard descriptorCount >= 1, descriptorCount <= 32768 else {
            throw .inflightRegion("\(descriptorCount) entries: must be 1...32768")
        }
        guard memory.count >= Self.headerSize + Self.entrySize * descriptorCount else {
            throw .inflightRegion("\(memory.count) bytes cannot hold \(descriptorCount) entries")
        }
        self.memory = memory
        self.descriptorCount = descriptorCount
    }

    // MARK: Header

    public var features: UInt64 {
        get { (try? memory.load(UInt64.self, at: Offset.features)) ?? 0 }
        nonmutating set { try? memory.store(newValue, at: Offset.features) }
    }
    public var version: UInt16 {
        get { (try? memory.load(UInt16.self, at: Offset.version)) ?? 0 }
        nonmutating set { try? memory.store(newValue, at: Offset.version) }
    }
    /// desc_num as stored (the back end writes it; only `descriptorCount` is trusted).
    public var storedDescriptorNumber: UInt16 {
        get { (try? memory.load(UInt16.self, at: Offset.descriptorNumber)) ?? 0 }
        nonmutating set { try? memory.store(newValue, at: Offset.descriptorNumber) }
    }
    /// Head of the list of the last batch of used heads, linked through `next`.
    public var lastBatchHead: UInt16 {
        get { (try? memory.load(UInt16.self, at: Offset.lastBatchHead)) ?? 0 }
        nonmutating set { try? memory.store(newValue, at: Offset.lastBatchHead) }
    }
    /// The used ring's index once the last batch was fully recorded here.
    public var usedIndex: UInt16 {
        get { (try? memory.load(UInt16.self, at: Offset.usedIndex)) ?? 0 }
        nonmutating set { try? memory.store(newValue, at: Offset.usedIndex) }
    }

    // MARK: Entries (heads outside the region read as zero and are not written)

    private func entry(_ head: Int) -> Int? {
        head >= 0 && head < descriptorCount ? Self.headerSize + Self.entrySize * head : nil
    }

    /// The inflight byte of `head`: 1 while the device holds it; anything else is not in flight.
    public func inflightFlag(_ head: Int) -> UInt8 {
        guard let e = entry(head) else { return 0 }
        return (try? memory.load(UInt8.self, at: e + Offset.inflight)) ?? 0
    }
    public func setInflightFlag(_ head: Int, _ value: UInt8) {
        guard let e = entry(head) else { return }
        try? memory.store(value, at: e + Offset.inflight)
    }
    public func next(_ head: Int) -> UInt16 {
        guard let e = entry(head) else { return 0 }
        return (try? memory.load(UInt16.self, at: e + Offset.next)) ?? 0
    }
    public func setNext(_ head: Int, _ value: UInt16) {
        guard let e = entry(head) else { return }
        try? memory.store(value, at: e + Offset.next)
    }
    public func counter(_ head: Int) -> UInt64 {
        guard let e = entry(head) else { return 0 }
        return (try? memory.load(UInt64.self, at: e + Offset.counter)) ?? 0
    }
    public func setCounter(_ head: Int, _ value: UInt64) {
        guard let e = entry(head) else { return }
        try? memory.store(value, at: e + Offset.counter)
    }

    // MARK: Tracking (the steps of vhost-user.rst, one used element per batch)

    /// A fresh region: no head in flight, the used index where the ring stands now.
    func initialize(usedIndex ringUsed: UInt16) {
        for head in 0..<descriptorCount {
            setInflightFlag(head, 0)
            setNext(head, 0)
            setCounter(head, 0)
        }
        features = 0
        storedDescriptorNumber = UInt16(truncatingIfNeeded: descriptorCount)
        lastBatchHead = 0
        usedIndex = ringUsed
        version = Self.currentVersion
    }

    /// The device took `head` from the available ring: counter first, then the flag, so a
    /// flag is never set on an entry whose counter is stale.
    func markTaken(_ head: UInt16, counter value: UInt64) {
        setCounter(Int(head), value)
        setInflightFlag(Int(head), 1)
    }

    /// Before the used element of `head` is published: it is the (one-element) last batch.
    func beginReturn(_ head: UInt16) {
        setNext(Int(head), lastBatchHead)
        lastBatchHead = head
    }

    /// After the used index was published as `ringUsed`: `head` is no longer in flight, and the
    /// region agrees with the ring again. A stop between the two steps leaves `usedIndex` behind
    /// the ring's, which tells the next back end to clear the last batch (`recover`).
    func endReturn(_ head: UInt16, ringUsed: UInt16) {
        setInflightFlag(Int(head), 0)
        usedIndex = ringUsed
    }
}
