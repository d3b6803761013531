#if canImport(Glibc)
import Glibc
#endif
import AVPTestSupport
import Devices
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD end to end: a server that dies with requests in flight
/// and the next one that resubmits them, and front ends that hand over hostile areas.
@Suite(.serialized) struct InflightServer {
    @Test func onlyDevicesThatOptInOfferInflightTracking() throws {
        let logger = Logger(label: "test.inflight")
        let image = try InflightImage()
        #expect(VhostUserBackend(device: try image.device(), logger: logger).offeredProtocolFeatures.contains(.inflightSharedMemory))
        #expect(!VhostUserBackend(device: EntropyDevice(logger: logger), logger: logger).offeredProtocolFeatures.contains(.inflightSharedMemory))
    }

    @Test func getInflightFDGivesASealedZeroedAreaSizedForTheLargestRing() throws {
        let s = try InflightServerFixture(device: HoldingDevice(completeAll: true))
        let driver = try s.driver()
        let (description, file) = try driver.frontend.getInflightFD(queueCount: 1, queueSize: 16)
        let fd = try #require(file)
        // Room for a ring of 1024 (the device's largest), whatever queue size the front end named.
        let size = InflightQueueRegion.size(queueSize: 1024)
        #expect(description == InflightDescription(mmapSize: UInt64(size), mmapOffset: 0, queueCount: 1, queueSize: 16))
        var st = stat()
        #expect(fstat(fd.rawValue, &st) == 0 && st.st_size == size)
        // Neither end can resize it under the other's mapping.
        #expect(throws: Errno(EPERM)) { try fd.truncate(to: 0) }
        let area = try InflightMemory(description: description, file: fd)
        #expect(try area.memory.slice(at: GuestAddress(0), count: size).bytes(count: size) == [UInt8](repeating: 0, count: size))
    }

    @Test func aRingLargerThanTheNamedQueueSizeIsTracked() throws {
        // QEMU names vhost-user-blk's queue-size in GET/SET_INFLIGHT_FD, but a virtio-mmio driver may
        // choose a larger ring (QEMU offers it 1024): all of its heads are tracked.
        let device = HoldingDevice(completeAll: false)
        let s = try InflightServerFixture(device: device)
        let driver = try s.driver()
        #expect(try driver.setUpInflight(queueCount: 1, queueSize: 16))
        try driver.shareMemory()
        let queue = try driver.startQueue(index: 0, size: 64)
        for _ in 0..<40 { try queue.ring.add(readable: [try driver.allocate(1)]) }
        queue.kick()
        #expect(device.waitForPopped(40).count == 40)
        let region = try driver.inflight!.queueRegion(0)
        #expect((0..<64).filter { region.inflightFlag($0) == 1 }.count == 40)
    }

    @Test func aRingLargerThanAFrontEndMadeAreaRunsUntracked() throws {
        let s = try InflightServerFixture(device: HoldingDevice(completeAll: true))
        let driver = try s.driver()
        let memfd = try MemFD.create(name: "test-inflight", size: 320)
        try driver.frontend.sendAcked(.setInflightFD(InflightDescription(mmapSize: 320, queueCount: 1, queueSize: 16), memfd))
        try driver.shareMemory()
        // 320 bytes hold 19 entries: a ring of 32 does not fit, and is served without tracking.
        let queue = try driver.startQueue(index: 0, size: 32)
        try queue.ring.add(readable: [try driver.allocate(1)])
        queue.kick()
        #expect(try queue.waitForUsed().count == 1)
        #expect(try driver.frontend.u64(try driver.frontend.send(.getStatus)!) & 0x40 == 0)
    }

    @Test func unreasonableAreaRequestsAreAnsweredWithNoArea() throws {
        let s = try InflightServerFixture(device: HoldingDevice(completeAll: true))
        let driver = try s.driver()
        for (queues, size): (UInt16, UInt16) in [(0, 16), (2, 16), (1, 0), (1, 2048), (.max, .max)] {
            let (description, file) = try driver.frontend.getInflightFD(queueCount: queues, queueSize: size)
            #expect(description.mmapSize == 0 && file == nil)
        }
        // Without the protocol feature negotiated, none either; and both connections go on.
        let plain = try InflightServerFixture(device: HoldingDevice(completeAll: true))
        let other = try plain.driver(inflight: false)
        #expect(try other.frontend.getInflightFD(queueCount: 1, queueSize: 16).1 == nil)
        #expect(try driver.frontend.getQueueNum() == 1)
        #expect(try other.frontend.getQueueNum() == 1)
    }

    @Test func hostileAreasAreRefusedAndTheConnectionGoesOn() throws {
        let s = try InflightServerFixture(device: HoldingDevice(completeAll: true))
        let driver = try s.driver()
        let proper = InflightDescription(mmapSize: 320, queueCount: 1, queueSize: 16)
        func refused(_ description: InflightDescription, _ file: FileDescriptor) {
            #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setInflightFD(description, file)) }
        }
        let memfd = try MemFD.create(name: "test-inflight", size: 320)
        var small = proper; small.mmapSize = 64
        refused(small, memfd)
        var far = proper; far.mmapOffset = 1 << 40
        refused(far, memfd)
        var many = proper; many.queueCount = 3
        refused(many, memfd)
        var huge = proper; huge.queueSize = 4096
        refused(huge, memfd)
        // A file shorter than the area it is said to hold, and descriptors that cannot be mapped.
        refused(proper, try MemFD.create(name: "test-inflight-short", size: 64))
        refused(proper, try EventFD().descriptor)
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(adopting: ends[0]), writer = FileDescriptor(adopting: ends[1])
        refused(proper, reader)
        _ = writer
        // The connection is intact and takes a proper area; once a ring runs, no other.
        #expect(try driver.frontend.getQueueNum() == 1)
        try driver.frontend.sendAcked(.setInflightFD(proper, memfd))
        try driver.shareMemory()
        _ = try driver.startQueue(index: 0, size: 16)
        refused(proper, memfd)
        // Without the protocol feature, refused as well.
        let plain = try InflightServerFixture(device: HoldingDevice(completeAll: true))
        let other = try plain.driver(inflight: false)
        #expect(throws: VhostUserError.self) { try other.frontend.sendAcked(.setInflightFD(proper, memfd)) }
    }

    @Test func anAreaShrunkUnderARunningQueueCostsOnlyThatFrontEnd() throws {
        let s = try InflightServerFixture(device: HoldingDevice(completeAll: true))
        let driver = try s.driver()
        // An unsealable memfd: the server cannot keep the front end from shrinking it.
        let memfd = try MemFD.create(name: "test-inflight", size: 320)
        try driver.frontend.sendAcked(.setInflightFD(InflightDescription(mmapSize: 320, queueCount: 1, queueSize: 16), memfd))
        try driver.shareMemory()
        let queue = try driver.startQueue(index: 0, size: 16)
        try memfd.truncate(to: 0)
        // Taking the request marks it in the area: SIGBUS in the server, absorbed; the front end is let go.
        let mark = try driver.allocate(1)
        try queue.ring.add(readable: [mark])
        queue.kick()
        s.waitForDisconnect(after: 1)
        #expect(!s.server.isConnected)
        // The socket serves the next front end.
        let next = try s.driver(inflight: false)
        try next.shareMemory()
        let q = try next.startQueue(index: 0, size: 16)
        try q.ring.add(readable: [try next.allocate(1)])
        q.kick()
        #expect(try q.waitForUsed().count == 1)
    }

    @Test func requestsHeldByAKilledServerAreResubmittedInOrderByTheNext() throws {
        let first = HoldingDevice(completeAll: false)
        var dying: InflightServerFixture? = try InflightServerFixture(device: first)
        let driver = try dying!.driver()
        #expect(driver.frontend.protocolFeatures.contains(.inflightSharedMemory))
        #expect(try driver.setUpInflight(queueCount: 1, queueSize: 16))
        try driver.shareMemory()
        let queue = try driver.startQueue(index: 0, size: 16)
        // Four requests; the server finishes only the second and holds the rest.
        var heads: [UInt16] = []
        for mark: UInt8 in [0, 1, 0, 0] {
            let m = try driver.allocate(1)
            try m.store(mark, at: 0)
            heads.append(try queue.ring.add(readable: [m]))
        }
        queue.kick()
        #expect(try queue.waitForUsed().map(\.head) == [heads[1]])
        #expect(first.waitForPopped(4) == heads)
        let region = try driver.inflight!.queueRegion(0)
        #expect((0..<16).filter { region.inflightFlag($0) == 1 } == [heads[0], heads[2], heads[3]].map(Int.init))
        #expect(region.usedIndex == 1)
        // The server dies: what it held is never completed.
        dying = nil
        // QEMU reconnects to its successor: SET_INFLIGHT_FD with the kept area, base = used index (1).
        let second = HoldingDevice(completeAll: true)
        let successor = try InflightServerFixture(device: second)
        try driver.reconnect(to: successor.path)
        #expect(try queue.waitForUsed(count: 3).map(\.head) == [heads[0], heads[2], heads[3]])
        #expect(second.popped == [heads[0], heads[2], heads[3]])
        // New requests follow, and nothing is left in flight.
        let late = try queue.ring.add(readable: [try driver.allocate(1)])
        queue.kick()
        #expect(try queue.waitForUsed().map(\.head) == [late])
        #expect(second.popped == [heads[0], heads[2], heads[3], late])
        #expect((0..<16).allSatisfy { region.inflightFlag($0) == 0 })
        #expect(region.usedIndex == 5)
    }

    @Test func aBlockServerRedoesTheWritesItsPredecessorLeftInFlightAndNoOthers() throws {
        let image = try InflightImage()
        // A block server hands out the area and starts the ring, then goes (nothing in flight).
        var first: InflightServerFixture? = try InflightServerFixture(device: try image.device())
        let driver = try first!.driver()
        #expect(try driver.setUpInflight(queueCount: 1, queueSize: 16))
        try driver.shareMemory()
        let queue = try driver.startQueue(index: 0, size: 16)
        first = nil
        // Four writes reach a back end that takes all four, finishes the second and fourth and is
        // killed: played here by a queue on the same rings and area (the tracking code the server runs).
        let writes = try (0..<4).map { i in try driver.publishWrite(on: queue, sector: UInt64(i), fill: UInt8(0xa0 + i)) }
        let killed = try SplitQueue(size: 16, addresses: queue.ring.addresses, memory: driver.memory, features: .transport)
        try killed.attachInflight(try driver.inflight!.queueRegion(0))
        #expect(try (0..<4).map { _ in try killed.popHead() } == writes.map(\.head))
        for i in [1, 3] {
            try writes[i].status.store(UInt8(0), at: 0)
            killed.addUsed(head: writes[i].head, length: 1)
        }
        #expect(try queue.waitForUsed(count: 2).map(\.head) == [writes[1].head, writes[3].head])
        // A new block server on the same image: the first and third writes are done, the others not again.
        let successor = try InflightServerFixture(device: try image.device())
        try driver.reconnect(to: successor.path)
        let redone = try queue.waitForUsed(count: 2)
        #expect(Set(redone.map(\.head)) == Set([writes[0].head, writes[2].head]))
        #expect(try writes[0].status.load(UInt8.self, at: 0) == 0)
        #expect(try writes[2].status.load(UInt8.self, at: 0) == 0)
        #expect(image.sector(0) == [UInt8](repeating: 0xa0, count: 512))
        #expect(image.sector(2) == [UInt8](repeating: 0xa2, count: 512))
        #expect(image.sector(1) == [UInt8](repeating: 0, count: 512))
        #expect(image.sector(3) == [UInt8](repeating: 0, count: 512))
        // And the ring goes on from there.
        let next = try driver.publishWrite(on: queue, sector: 5, fill: 0xee)
        queue.kick()
        #expect(try queue.waitForUsed().map(\.head) == [next.head])
        #expect(image.sector(5) == [UInt8](repeating: 0xee, count: 512))
    }
}
