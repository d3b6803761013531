import AVPTestSupport
import Devices
import GuestMemory
import SystemCalls
import Testing
import VhostUser
import Virtio

/// The entropy back end driven through real vhost-user messages by the Swift front end.
@Suite(.serialized) struct EntropyOverVhostUser {
    @Test func negotiationOffersModernRingFeaturesAndOneQueue() throws {
        let f = try ServerFixture()
        let frontend = try VhostUserFrontend.connect(to: f.path)
        let features = VirtioFeatures(rawValue: try frontend.getFeatures())
        #expect(features.isSuperset(of: [.version1, .ringIndirectDescriptors, .ringEventIndex]))
        #expect(try frontend.getFeatures() & vhostUserProtocolFeaturesBit != 0)
        let protocolFeatures = try frontend.getProtocolFeatures()
        #expect(protocolFeatures.isSuperset(of: [.multipleQueues, .replyAck, .configureMemSlots, .resetDevice]))
        // No configuration space, so no CONFIG offer.
        #expect(!protocolFeatures.contains(.config))
        try frontend.setProtocolFeatures([.replyAck, .multipleQueues])
        #expect(try frontend.getQueueNum() == 1)
        #expect(try frontend.getMaxMemSlots() == 32)
        // virtio-rng has no configuration space: a read fails with an empty payload.
        #expect(try frontend.getConfig(offset: 0, size: 4).isEmpty)
        #expect(throws: VhostUserError.self) { try frontend.sendAcked(.setConfig(offset: 0, flags: 0, bytes: [1])) }
    }

    @Test func fillsWritableBuffersWithRandomBytes() throws {
        let f = try ServerFixture()
        let driver = try f.driver()
        let queue = driver.queues[0]
        let a = try driver.allocate(4096), b = try driver.allocate(4096)
        let ha = try queue.ring.add(writable: [a])
        let hb = try queue.ring.add(writable: [try b.subslice(at: 0, count: 100), try b.subslice(at: 100, count: 3996)])
        queue.kick()
        let used = try queue.waitForUsed(count: 2)
        #expect(used == [.init(head: ha, length: 4096), .init(head: hb, length: 4096)])
        let bytes = try a.bytes(count: 4096) + b.bytes(count: 4096)
        #expect(looksRandom(bytes))
    }

    @Test func largeRequestsAreCappedPerRequest() throws {
        let f = try ServerFixture()
        let driver = try GuestDriver.start(socketPath: f.path, queueSizes: [16], memorySize: 4 << 20)
        let queue = driver.queues[0]
        let big = try driver.allocate(1 << 20)
        try queue.ring.add(writable: [big])
        queue.kick()
        let used = try queue.waitForUsed()
        #expect(used.map(\.length) == [UInt32(EntropyDevice.maxBytesPerRequest)])
    }

    /// VIRTIO 1.2 §5.4.6.1: device-readable buffers are a driver error; the request is returned empty.
    @Test func readableBufferIsRefusedAndTheQueueGoesOn() throws {
        let f = try ServerFixture()
        let driver = try f.driver()
        let queue = driver.queues[0]
        let r = try driver.allocate(64), w = try driver.allocate(64)
        let bad = try queue.ring.add(readable: [r], writable: [w])
        let good = try queue.ring.add(writable: [w])
        queue.kick()
        #expect(try queue.waitForUsed(count: 2) == [.init(head: bad, length: 0), .init(head: good, length: 64)])
    }

    @Test func malformedChainsGetNothingAndLaterRequestsAreServed() throws {
        let f = try ServerFixture()
        let driver = try f.driver()
        let queue = driver.queues[0]
        let w = try driver.allocate(64)
        // A loop, a buffer outside RAM, and an address that wraps.
        try queue.ring.writeDescriptor(0, Descriptor(address: w.guestAddress.raw, length: 8, flags: [.write, .next], next: 1))
        try queue.ring.writeDescriptor(1, Descriptor(address: w.guestAddress.raw, length: 8, flags: [.write, .next], next: 0))
        try queue.ring.publishRaw(head: 0, descriptors: [0, 1])
        try queue.ring.writeDescriptor(2, Descriptor(address: 0x10, length: 64, flags: .write))
        try queue.ring.publishRaw(head: 2, descriptors: [2])
        try queue.ring.writeDescriptor(3, Descriptor(address: UInt64.max - 8, length: 64, flags: .write))
        try queue.ring.publishRaw(head: 3, descriptors: [3])
        let good = try queue.ring.add(writable: [w])
        queue.kick()
        let used = try queue.waitForUsed(count: 4)
        #expect(used == [.init(head: 0, length: 0), .init(head: 2, length: 0), .init(head: 3, length: 0), .init(head: good, length: 64)])
    }

    @Test func brokenRingSignalsTheErrorEventfdAndTheNextFrontEndIsServed() throws {
        let f = try ServerFixture()
        do {
            let driver = try f.driver()
            let err = try EventFD()
            try driver.frontend.sendAcked(.setVringErr(index: 0, err.descriptor))
            let queue = driver.queues[0]
            try queue.ring.publish(head: 999)
            queue.kick()
            #expect(err.wait(timeoutMilliseconds: 5000) != nil)
            let status = try driver.frontend.u64(try #require(try driver.frontend.send(.getStatus)))
            #expect(DeviceStatus(rawValue: UInt8(status)).contains(.needsReset))
        }
        f.waitForDisconnect(after: 1)
        let driver = try f.driver()
        let w = try driver.allocate(32)
        try driver.queues[0].ring.add(writable: [w])
        driver.queues[0].kick()
        #expect(try driver.queues[0].waitForUsed().map(\.length) == [32])
    }

    @Test func frontEndCanReconnectAfterLeaving() throws {
        let f = try ServerFixture()
        for round in 1...3 {
            let driver = try f.driver()
            let w = try driver.allocate(16)
            try driver.queues[0].ring.add(writable: [w])
            driver.queues[0].kick()
            #expect(try driver.queues[0].waitForUsed().map(\.length) == [16])
            driver.frontend.channel.socket.shutdown()
            f.waitForDisconnect(after: round)
        }
        #expect(f.server.connectionCount == 3)
    }

    @Test func getVringBaseStopsTheRingAtTheNextAvailableIndex() throws {
        let f = try ServerFixture()
        let driver = try f.driver()
        let queue = driver.queues[0]
        let w = try driver.allocate(16)
        for _ in 0..<5 { try queue.ring.add(writable: [w]) }
        queue.kick()
        _ = try queue.waitForUsed(count: 5)
        #expect(try driver.frontend.getVringBase(0) == 5)
        // Stopped: a kick is no longer served.
        try queue.ring.add(writable: [w])
        queue.kick()
        #expect(try queue.waitForUsed(timeoutMilliseconds: 200).isEmpty)
    }

    @Test func legacyDriverWithoutVersion1IsRefused() throws {
        let f = try ServerFixture()
        let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: f.path))
        try driver.frontend.setProtocolFeatures([.replyAck])
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setFeatures(vhostUserProtocolFeaturesBit)) }
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setFeatures(1 << 50)) }
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setProtocolFeatures(1 << 40)) }
        try driver.frontend.sendAcked(.setFeatures(VirtioFeatures.version1.rawValue))
    }

    @Test func invalidQueueSetupIsRefusedWithoutDisconnecting() throws {
        let f = try ServerFixture()
        let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: f.path))
        try driver.negotiate()
        try driver.shareMemory()
        let fe = driver.frontend
        #expect(throws: VhostUserError.self) { try fe.sendAcked(.setVringNum(index: 0, size: 3)) }
        #expect(throws: VhostUserError.self) { try fe.sendAcked(.setVringNum(index: 0, size: 4096)) }
        #expect(throws: VhostUserError.self) { try fe.sendAcked(.setVringNum(index: 7, size: 16)) }
        try fe.sendAcked(.setVringNum(index: 0, size: 16))
        // Rings outside the shared memory: the kick that would start the queue is refused.
        try fe.sendAcked(.setVringAddr(VringAddress(index: 0, descriptorTable: FrontendAddress(0x1000),
                                                    usedRing: FrontendAddress(0x2000), availableRing: FrontendAddress(0x3000))))
        #expect(throws: VhostUserError.self) { try fe.sendAcked(.setVringKick(index: 0, try EventFD().descriptor)) }
        #expect(try fe.getQueueNum() == 1) // still connected
    }

    @Test func garbageFromTheFrontEndDisconnectsItAndTheServerGoesOn() throws {
        let f = try ServerFixture()
        do {
            let fe = try VhostUserFrontend.connect(to: f.path)
            try fe.sendRaw(request: 1, flags: VhostUserHeader.Flags(rawValue: 0x3), payload: [])
        }
        f.waitForDisconnect(after: 1)
        do {
            let fe = try VhostUserFrontend.connect(to: f.path)
            try fe.sendRaw(request: 4242, payload: [1, 2, 3])
        }
        f.waitForDisconnect(after: 2)
        do {
            // A header that promises more payload than it sends, then silence: the server times out.
            let fe = try VhostUserFrontend.connect(to: f.path)
            var w = ByteWriter()
            w.write(UInt32(2)); w.write(UInt32(1)); w.write(UInt32(8))
            try fe.channel.socket.send(w.bytes + [1, 2])
            let driver = try GuestDriver.start(socketPath: f.path, queueSizes: [8]) // waits in the backlog
            let w2 = try driver.allocate(8)
            try driver.queues[0].ring.add(writable: [w2])
            driver.queues[0].kick()
            #expect(try driver.queues[0].waitForUsed(timeoutMilliseconds: 15000).map(\.length) == [8])
            _ = fe
        }
    }

    @Test func memoryRegionsCanBeAddedAndRemovedWhileRunning() throws {
        let f = try ServerFixture()
        let driver = try f.driver()
        let queue = driver.queues[0]
        let extra = try SharedMemoryRegion(guestAddress: GuestAddress(0x8000_0000), size: 1 << 20)
        try driver.frontend.sendAcked(.addMemReg(extra.descriptor, extra.file))
        let outside = try extra.region.descriptor.guestAddress.adding(64)
        try queue.ring.writeDescriptor(0, Descriptor(address: outside.raw, length: 32, flags: .write))
        try queue.ring.publishRaw(head: 0, descriptors: [0])
        queue.kick()
        #expect(try queue.waitForUsed().map(\.length) == [32])
        try driver.frontend.sendAcked(.remMemReg(extra.descriptor))
        try queue.ring.writeDescriptor(0, Descriptor(address: outside.raw, length: 32, flags: .write))
        try queue.ring.publishRaw(head: 0, descriptors: [0])
        queue.kick()
        #expect(try queue.waitForUsed().map(\.length) == [0])
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.remMemReg(extra.descriptor)) }
    }

    @Test func interruptsAreSuppressedWhenTheDriverAsks() throws {
        let f = try ServerFixture()
        let driver = try f.driver(features: (VirtioFeatures.version1.rawValue | vhostUserProtocolFeaturesBit))
        let queue = driver.queues[0]
        let w = try driver.allocate(16)
        try queue.ring.suppressInterrupts(true)
        try queue.ring.add(writable: [w])
        queue.kick()
        // The request completes, but no interrupt arrives.
        let deadline = MonotonicClock.seconds() + 5
        while try queue.ring.deviceUsedIndex() != 1, MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 1) }
        #expect(try queue.ring.deviceUsedIndex() == 1)
        #expect(queue.callEvent.wait(timeoutMilliseconds: 100) == nil)
        try queue.ring.suppressInterrupts(false)
        try queue.ring.add(writable: [w])
        queue.kick()
        #expect(queue.callEvent.wait(timeoutMilliseconds: 5000) != nil)
    }

    @Test func resetDeviceStopsRingsUntilSetUpAgain() throws {
        let f = try ServerFixture()
        let driver = try f.driver()
        try driver.frontend.sendAcked(.resetDevice)
        let w = try driver.allocate(16)
        try driver.queues[0].ring.add(writable: [w])
        driver.queues[0].kick()
        #expect(try driver.queues[0].waitForUsed(timeoutMilliseconds: 200).isEmpty)
        try driver.negotiate()
        let q = try driver.startQueue(index: 0, size: 16)
        try q.ring.add(writable: [w])
        q.kick()
        #expect(try q.waitForUsed().map(\.length) == [16])
    }
}
