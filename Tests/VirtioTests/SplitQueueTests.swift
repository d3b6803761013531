import GuestMemory
import Logging
import Testing
import Virtio

@Suite struct SplitQueueRing {
    @Test func queueSizeMustBeAPowerOfTwoUpTo32768() throws {
        let f = try QueueFixture()
        for bad: UInt32 in [0, 3, 6, 65536, 32769] {
            #expect(throws: QueueError.invalidSize(bad)) {
                try SplitQueue(size: bad, addresses: f.driver.addresses, memory: f.memory, features: .transport)
            }
        }
    }

    @Test func misalignedOrUnmappedRingsAreRefused() throws {
        let f = try QueueFixture()
        var a = f.driver.addresses
        a.usedRing = GuestAddress(a.usedRing.raw + 2)
        #expect(throws: QueueError.misaligned(part: "used ring", address: a.usedRing)) {
            try SplitQueue(size: 8, addresses: a, memory: f.memory, features: .transport)
        }
        a = f.driver.addresses
        a.descriptorTable = GuestAddress(0x10)
        #expect(throws: QueueError.self) { try SplitQueue(size: 8, addresses: a, memory: f.memory, features: .transport) }
    }

    @Test func usedEntriesComeBackInOrderWithLengths() throws {
        let f = try QueueFixture()
        let b = try f.buffer(64)
        let h1 = try f.driver.add(writable: [try b.subslice(at: 0, count: 32)])
        let h2 = try f.driver.add(writable: [try b.subslice(at: 32, count: 32)])
        #expect(try f.device.pendingCount() == 2)
        let c1 = try f.next(), c2 = try f.next()
        #expect(try f.device.popHead() == nil)
        f.device.addUsed(head: c2.head, length: 7)
        f.device.addUsed(head: c1.head, length: 9)
        let used = try f.driver.collectUsed()
        #expect(used == [.init(head: h2, length: 7), .init(head: h1, length: 9)])
    }

    @Test func indicesWrapAround65536() throws {
        let f = try QueueFixture(size: 4)
        let b = try f.buffer(4)
        for _ in 0..<70_000 {
            try f.driver.add(writable: [b])
            let c = try f.next()
            f.device.addUsed(head: c.head, length: 4)
            #expect(try f.driver.collectUsed().count == 1)
        }
        #expect(f.device.nextAvailable == UInt16(70_000 % 65536))
    }

    @Test func availableIndexRunningAheadBreaksTheQueue() throws {
        let f = try QueueFixture()
        try f.driver.forceAvailableIndex(9)
        #expect(throws: QueueError.availableIndexJump(available: 9, nextAvailable: 0, size: 8)) { try f.device.popHead() }
    }

    /// A driver that makes a head available again while the device holds it would get it back
    /// twice; the second return would complete whatever it put there next.
    @Test func headTheDeviceHoldsBreaksTheQueue() throws {
        let f = try QueueFixture()
        try f.driver.publish(head: 3)
        #expect(try f.device.popHead() == 3)
        try f.driver.publish(head: 3)
        #expect(throws: QueueError.headInUse(head: 3, availableIndex: 1)) { try f.device.popHead() }
    }

    @Test func headReturnedMayBeTakenAgain() throws {
        let f = try QueueFixture()
        try f.driver.publish(head: 3)
        #expect(try f.device.popHead() == 3)
        f.device.addUsed(head: 3, length: 0)
        try f.driver.publish(head: 3)
        #expect(try f.device.popHead() == 3)
    }

    @Test func headOutsideTheTableBreaksTheQueue() throws {
        let f = try QueueFixture()
        try f.driver.publish(head: 8)
        #expect(throws: QueueError.headOutOfRange(head: 8, size: 8)) { try f.device.popHead() }
    }

    @Test func noInterruptFlagSuppressesNotificationWithoutEventIndex() throws {
        let f = try QueueFixture(features: [.version1])
        f.device.addUsed(head: 0, length: 0)
        #expect(f.device.needsNotification())
        try f.driver.suppressInterrupts(true)
        f.device.addUsed(head: 0, length: 0)
        #expect(!f.device.needsNotification())
    }

    /// VIRTIO 1.2 §2.7.10: interrupt only when the used index passes used_event.
    @Test func eventIndexInterruptsOnlyWhenUsedEventIsCrossed() throws {
        let f = try QueueFixture()
        f.device.addUsed(head: 0, length: 0)
        #expect(f.device.needsNotification()) // the first one always
        try f.driver.setUsedEvent(3)           // wake me when entry 3 is used (index becomes 4)
        f.device.addUsed(head: 0, length: 0)   // index 2
        #expect(!f.device.needsNotification())
        f.device.addUsed(head: 0, length: 0)   // index 3
        #expect(!f.device.needsNotification())
        f.device.addUsed(head: 0, length: 0)   // index 4: crosses 3
        #expect(f.device.needsNotification())
    }

    @Test func eventIndexPublishesAvailableEventAndSeesLateBuffers() throws {
        let f = try QueueFixture()
        let b = try f.buffer(8)
        try f.driver.add(writable: [b])
        _ = try f.next()
        #expect(try f.device.enableNotifications() == false)
        #expect(try f.driver.availableEvent() == 1)
        try f.driver.add(writable: [b])
        #expect(try f.device.enableNotifications() == true)
    }
}

@Suite struct DeviceQueueGuestRule {
    func queue(_ f: QueueFixture) -> (DeviceQueue, RecordingNotifier) {
        let n = RecordingNotifier()
        return (DeviceQueue(index: 0, ring: f.device, notifier: n, logger: Logger(label: "test")), n)
    }

    @Test func malformedChainIsReturnedEmptyAndTheNextOneServed() throws {
        let f = try QueueFixture()
        let (q, n) = queue(f)
        let good = try f.buffer(8)
        try f.driver.writeDescriptor(0, Descriptor(address: 0xdead_0000, length: 8, flags: .write))
        try f.driver.publishRaw(head: 0, descriptors: [0])
        let h = try f.driver.add(writable: [good])
        var served: [UInt16] = []
        q.drain { chain in served.append(chain.head); return 8 }
        #expect(served == [h])
        #expect(try f.driver.collectUsed() == [.init(head: 0, length: 0), .init(head: h, length: 8)])
        #expect(q.malformedChains == 1 && !q.isBroken)
        #expect(n.interrupts == 1 && n.errors == 0)
    }

    @Test func brokenRingStopsTheQueueAndSignalsTheError() throws {
        let f = try QueueFixture()
        let (q, n) = queue(f)
        try f.driver.publish(head: 200)
        var calls = 0
        q.drain { _ in calls += 1; return 0 }
        #expect(q.isBroken && calls == 0 && n.errors == 1)
        // Nothing more is taken from a broken queue.
        try f.driver.add(writable: [try f.buffer(8)])
        q.drain { _ in calls += 1; return 0 }
        #expect(calls == 0 && n.errors == 1)
    }
}

@Suite struct DeviceQueueLoops {
    /// A device loop `repeat { pop } while rearm()` must end when the ring breaks with requests pending
    /// (found by fuzz/run block: a head outside the table left one request pending forever).
    @Test func rearmIsFalseOnceBroken() throws {
        let f = try QueueFixture()
        let q = DeviceQueue(index: 0, ring: f.device, notifier: RecordingNotifier(), logger: Logger(label: "test"))
        try f.driver.publish(head: 39)
        var rounds = 0
        repeat {
            while q.pop() != nil {}
            rounds += 1
        } while q.rearm() && rounds < 100
        #expect(q.isBroken && rounds == 1)
    }
}
