import AVPTestSupport
import GuestMemory
import Testing
import Virtio

/// A driver ring, an inflight region and the device's queue in one process, no transport:
/// `device` plays a back end that may "die" (be dropped) at any point, `restart` a new one.
final class InflightQueueFixture {
    let ram: SharedMemoryRegion
    let memory: GuestMemory
    var allocator: GuestAllocator
    let driver: DriverRing
    let region: InflightQueueRegion
    var device: SplitQueue
    let size: UInt16

    init(size: UInt16 = 8, regionEntries: Int? = nil) throws {
        self.size = size
        let base = GuestAddress(0x1000_0000)
        ram = try SharedMemoryRegion(guestAddress: base, size: 1 << 20)
        memory = try GuestMemory(regions: [ram.region])
        allocator = GuestAllocator(base: base, size: 1 << 20)
        driver = try DriverRing(size: size, memory: memory, allocator: &allocator)
        let entries = regionEntries ?? Int(size)
        let bytes = InflightQueueRegion.size(queueSize: entries)
        let slice = try memory.slice(at: try allocator.allocate(bytes, alignment: 64), count: bytes)
        region = try InflightQueueRegion(memory: slice, descriptorCount: entries)
        device = try SplitQueue(size: UInt32(size), addresses: driver.addresses, memory: memory, features: .transport)
    }

    /// A new back end on the same rings and region, started the way QEMU restarts one whose
    /// predecessor died: base = the ring's used index.
    @discardableResult
    func restart() throws -> InflightRecovery {
        device = try SplitQueue(size: UInt32(size), addresses: driver.addresses, memory: memory, features: .transport,
                                nextAvailable: try driver.deviceUsedIndex())
        return try device.attachInflight(region)
    }

    /// `n` one-buffer requests published by the driver; their heads.
    func publish(_ n: Int) throws -> [UInt16] {
        let b = try memory.slice(at: try allocator.allocate(16, alignment: 16), count: 16)
        return try (0..<n).map { _ in try driver.add(writable: [b]) }
    }

    func pop(_ n: Int) throws -> [UInt16] { try (0..<n).map { _ in try #require(try device.popHead()) } }

    var inflightHeads: [Int] { (0..<region.descriptorCount).filter { region.inflightFlag($0) == 1 } }
}

@Suite struct InflightRegion {
    @Test func takenHeadsAreMarkedInOrderAndClearedWhenUsed() throws {
        let f = try InflightQueueFixture()
        #expect(try f.device.attachInflight(f.region).fresh)
        let heads = try f.publish(4)
        #expect(try f.pop(4) == heads)
        #expect(f.inflightHeads == heads.map(Int.init))
        #expect(heads.map { f.region.counter(Int($0)) } == [0, 1, 2, 3])
        f.device.addUsed(head: heads[2], length: 0)
        #expect(f.inflightHeads == [heads[0], heads[1], heads[3]].map(Int.init))
        #expect(f.region.usedIndex == 1)
        #expect(f.region.lastBatchHead == heads[2])
        #expect(f.region.version == InflightQueueRegion.currentVersion)
        #expect(f.region.storedDescriptorNumber == 8)
    }

    @Test func aFreshRegionIsInitializedWhereTheRingStands() throws {
        let f = try InflightQueueFixture()
        // A first back end without tracking used 3 requests; the region handed over is zeroed except for junk flags.
        let early = try f.publish(3)
        for h in try f.pop(3) { f.device.addUsed(head: h, length: 0) }
        #expect(early.count == 3)
        f.region.setInflightFlag(5, 1)
        f.region.setCounter(5, 77)
        let recovery = try f.restart()
        #expect(recovery.fresh && recovery.heads.isEmpty)
        #expect(f.inflightHeads.isEmpty && f.region.usedIndex == 3)
        #expect(f.device.nextAvailable == 3)
    }

    @Test func headsLeftInFlightComeBackInTheOrderTheyWereTakenBeforeNewOnes() throws {
        let f = try InflightQueueFixture()
        try f.device.attachInflight(f.region)
        let h = try f.publish(4)
        _ = try f.pop(4)
        // Completed out of order, then the back end dies with h[0] and h[2] in flight.
        f.device.addUsed(head: h[3], length: 0)
        f.device.addUsed(head: h[1], length: 0)
        let late = try f.publish(1)
        let recovery = try f.restart()
        #expect(recovery.heads == [h[0], h[2]])
        #expect(recovery.nextCounter == 3)
        // Used index 2 + 2 resubmitted: the next available entry is the one never taken.
        #expect(f.device.nextAvailable == 4)
        #expect(try f.device.pendingCount() == 3)
        #expect(try f.pop(3) == [h[0], h[2], late[0]])
        #expect(try f.device.popHead() == nil)
        // The new head is tracked after the old ones.
        #expect(f.region.counter(Int(late[0])) == 3)
    }

    @Test func theCounterDecidesTheOrderNotTheHeadNumber() throws {
        let f = try InflightQueueFixture()
        try f.device.attachInflight(f.region)
        let h = try f.publish(3)
        _ = try f.pop(3)
        // As if the driver had handed the heads out in the order h2, h0, h1.
        f.region.setCounter(Int(h[2]), 10)
        f.region.setCounter(Int(h[0]), 11)
        f.region.setCounter(Int(h[1]), 12)
        #expect(try f.restart().heads == [h[2], h[0], h[1]])
        #expect(try f.pop(3) == [h[2], h[0], h[1]])
    }

    @Test func aStopBetweenPublishingAndClearingLeavesTheLastBatchDoneNotResubmitted() throws {
        let f = try InflightQueueFixture()
        try f.device.attachInflight(f.region)
        let h = try f.publish(3)
        _ = try f.pop(3)
        f.device.addUsed(head: h[1], length: 0)
        // The back end died after the used index went out but before the flag and used_idx were written.
        f.region.setInflightFlag(Int(h[1]), 1)
        f.region.usedIndex = 0
        let recovery = try f.restart()
        #expect(recovery.completedBatch == 1)
        #expect(recovery.heads == [h[0], h[2]])
        #expect(f.region.usedIndex == 1)
        #expect(f.device.nextAvailable == 3)
    }

    @Test func aLastBatchOfSeveralIsFollowedThroughNext() throws {
        let f = try InflightQueueFixture()
        try f.device.attachInflight(f.region)
        let h = try f.publish(3)
        _ = try f.pop(3)
        f.device.addUsed(head: h[0], length: 0)
        f.device.addUsed(head: h[2], length: 0)
        // A batching back end died before clearing both: h[2] → h[0].
        f.region.setInflightFlag(Int(h[0]), 1)
        f.region.setInflightFlag(Int(h[2]), 1)
        f.region.usedIndex = 0
        let recovery = try f.restart()
        #expect(recovery.completedBatch == 2)
        #expect(recovery.heads == [h[1]])
    }

    @Test func entriesThatCannotBeHeadsAreIgnoredAndCleared() throws {
        // A region of 16 entries for a ring of 8: entries 8... can never be heads.
        let f = try InflightQueueFixture(size: 8, regionEntries: 16)
        try f.device.attachInflight(f.region)
        let h = try f.publish(2)
        _ = try f.pop(2)
        f.region.setInflightFlag(12, 1)
        f.region.setInflightFlag(Int(h[1]), 7)
        f.region.setCounter(Int(h[0]), .max)
        let recovery = try f.restart()
        #expect(recovery.heads == [h[0]])
        #expect(recovery.ignoredEntries == 2)
        #expect(recovery.nextCounter == 0)
        #expect(f.inflightHeads == [Int(h[0])])
        // One resubmitted, so the available ring is read from index 1: h[1] again, now as a new request.
        #expect(try f.pop(2) == [h[0], h[1]])
    }

    @Test func hostileRegionsStopTheQueueInsteadOfTrapping() throws {
        // An unknown version.
        var f = try InflightQueueFixture()
        f.region.version = 9
        #expect(throws: QueueError.inflightRegion("unknown version 9")) { try f.restart() }
        // Fewer entries than the ring.
        f = try InflightQueueFixture(size: 8, regionEntries: 4)
        #expect(throws: QueueError.inflightRegion("4 entries for a queue of 8")) { try f.restart() }
        // A used index further ahead of the recorded one than the ring holds.
        f = try InflightQueueFixture()
        try f.device.attachInflight(f.region)
        f.region.usedIndex = 0x8000
        #expect(throws: QueueError.self) { try f.restart() }
        // A last batch naming a head outside the ring.
        f = try InflightQueueFixture()
        try f.device.attachInflight(f.region)
        for h in try f.publish(1) { _ = try f.pop(1); f.device.addUsed(head: h, length: 0) }
        f.region.usedIndex = 0
        f.region.lastBatchHead = 0xffff
        #expect(throws: QueueError.inflightRegion("last batch names head 65535 in a queue of 8")) { try f.restart() }
    }

    @Test func moreHeadsInFlightThanTheDriverMadeAvailableBreakTheQueueOnThePop() throws {
        let f = try InflightQueueFixture()
        try f.device.attachInflight(f.region)
        // Every entry flagged although the driver published nothing: 8 resubmissions, then the
        // available index (0) is behind where reading resumes (8): a ring fault, not a trap.
        for head in 0..<8 { f.region.setInflightFlag(head, 1) }
        #expect(try f.restart().heads.count == 8)
        #expect(try f.pop(8).count == 8)
        #expect(throws: QueueError.self) { try f.device.popHead() }
    }

    @Test func regionsTooSmallForTheirEntriesAreRefused() throws {
        let f = try InflightQueueFixture()
        let small = try f.region.memory.subslice(at: 0, count: 16 + 16 * 3)
        #expect(throws: QueueError.self) { try InflightQueueRegion(memory: small, descriptorCount: 4) }
        #expect(throws: QueueError.self) { try InflightQueueRegion(memory: f.region.memory, descriptorCount: 0) }
        #expect(InflightQueueRegion.size(queueSize: 1) == 64)
        #expect(InflightQueueRegion.size(queueSize: 128) == 2112)
        #expect(InflightQueueRegion.size(queueSize: 4) == 128)
    }
}
