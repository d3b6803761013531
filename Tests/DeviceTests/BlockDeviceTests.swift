import Devices
import Foundation
import GuestMemory
import SystemCalls
import Testing
import VhostUser
import Virtio

/// virtio-blk request handling (VIRTIO 1.2 §5.2.6) through real vhost-user messages.
@Suite(.serialized) struct BlockRequests {
    @Test("AVPS-v2.0-4: configuration space reports capacity, limits and the cache mode")
    func configurationSpace() throws {
        let f = try BlockFixture(sizeMiB: 16, configure: { $0.queueCount = 2 }, queues: 2)
        let config = try f.driver.frontend.getConfig(offset: 0, size: UInt32(BlockConfiguration.size))
        var r = ByteReader(config)
        #expect(try r.read(UInt64.self) == 16 * 2048)          // capacity
        #expect(try r.read(UInt32.self) == BlockDevice.sizeMax) // size_max
        #expect(try r.read(UInt32.self) == BlockDevice.segMax)  // seg_max
        #expect(config[32] == 1)                                // writeback
        #expect(UInt16(config[34]) | UInt16(config[35]) << 8 == 2) // num_queues
        let features = VirtioFeatures(rawValue: f.driver.features)
        #expect(features.isSuperset(of: [BlockFeature.flush, BlockFeature.configWCE, BlockFeature.discard,
                                         BlockFeature.writeZeroes, BlockFeature.multiQueue, BlockFeature.topology]))
        #expect(try f.driver.frontend.getQueueNum() == 2)
    }

    @Test(arguments: ServerEventLoop.allCases)
    func writesReadBackAndLandInTheImage(loop: ServerEventLoop) throws {
        let f = try BlockFixture(eventLoop: loop)
        #expect(f.server.eventLoop == loop)
        #expect(f.device.engineName.contains("shared with the event loop") == (loop == .ioUring))
        let data = pattern(8192, seed: 7)
        #expect(try f.write(sector: 100, bytes: data) == 0)
        let (status, back) = try f.read(sector: 100, count: 8192)
        #expect(status == 0 && back == data)
        #expect(Array(f.imageBytes[51200..<51200 + 8192]) == data)
    }

    @Test func dataSplitAcrossManyDescriptorsIsGathered() throws {
        let f = try BlockFixture()
        let pieces = try (0..<16).map { _ in try f.driver.allocate(512) }
        for (i, p) in pieces.enumerated() { try p.write(pattern(512, seed: UInt8(i))) }
        #expect(try f.send(readable: [try f.header(1, sector: 8)] + pieces, writable: []).0 == 0)
        #expect(try f.read(sector: 8, count: 8192).1 == (0..<16).flatMap { pattern(512, seed: UInt8($0)) })
    }

    @Test func usedLengthCountsReadDataPlusStatus() throws {
        let f = try BlockFixture()
        let data = try f.driver.allocate(4096)
        let (status, used) = try f.send(readable: [try f.header(0, sector: 0)], writable: [data])
        #expect(status == 0 && used == 4097)
        #expect(try f.send(readable: [try f.header(4)], writable: []) == (0, 1))
    }

    @Test func outOfRangeAndMisalignedRequestsGetIOError() throws {
        let f = try BlockFixture(sizeMiB: 1)
        #expect(try f.read(sector: 2048, count: 512).0 == 1)            // one past the end
        #expect(try f.read(sector: 2047, count: 1024).0 == 1)           // runs off the end
        #expect(try f.read(sector: UInt64.max - 1, count: 512).0 == 1)  // sector overflow
        let odd = try f.driver.allocate(100)
        #expect(try f.send(readable: [try f.header(0)], writable: [odd]).0 == 1) // not a multiple of 512
        #expect(try f.write(sector: 2047, bytes: pattern(1024, seed: 1)) == 1)
    }

    @Test func unknownAndUnofferedTypesAreUnsupported() throws {
        let f = try BlockFixture()
        #expect(try f.send(readable: [try f.header(77)], writable: []).0 == 2)
        #expect(try f.send(readable: [try f.header(14)], writable: []).0 == 2) // secure erase
        #expect(try f.send(readable: [try f.header(10)], writable: [try f.driver.allocate(8)]).0 == 2) // lifetime
    }

    @Test func shortHeaderIsAnIOErrorAndNoStatusByteIsDropped() throws {
        let f = try BlockFixture()
        let short = try f.driver.allocate(8)
        #expect(try f.send(readable: [short], writable: []).0 == 1)
        // Only readable buffers: there is no status byte to answer with.
        try f.queue.ring.add(readable: [try f.header(0)])
        f.queue.kick()
        #expect(try f.queue.waitForUsed().map(\.length) == [0])
        #expect(f.device.statistics.malformed == 1)
    }

    @Test("GET_ID returns the serial, NUL-padded to 20 bytes")
    func getIDReturnsSerial() throws {
        let f = try BlockFixture(configure: { $0.serial = "AVP-DISK-0001" })
        let id = try f.driver.allocate(20)
        let (status, used) = try f.send(readable: [try f.header(8)], writable: [id])
        #expect(status == 0 && used == 21)
        #expect(try id.bytes(count: 20) == Array("AVP-DISK-0001".utf8) + [UInt8](repeating: 0, count: 7))
    }

    @Test("AVPS-v2.0-7: discard punches a hole; misaligned or flagged discards are refused")
    func discardPunchesHoles() throws {
        let f = try BlockFixture(sizeMiB: 16)
        #expect(try f.write(sector: 0, bytes: pattern(4 << 20, seed: 3)) == 0)
        #expect(try f.send(readable: [try f.header(4)], writable: []).0 == 0)
        let before = f.allocatedBytes
        #expect(before >= 4 << 20)
        #expect(try f.ranges(11, [(0, 4096, 0), (4096, 2048, 0)]) == 0)
        #expect(f.allocatedBytes <= before - (3 << 20))
        #expect(try f.read(sector: 0, count: 4096).1 == [UInt8](repeating: 0, count: 4096))
        #expect(try f.ranges(11, [(1, 8, 0)]) == 1)            // not 4 KiB aligned
        #expect(try f.ranges(11, [(0, 8, 1)]) == 2)            // unmap flag on discard
        #expect(try f.ranges(11, [(0, 8, 4)]) == 2)            // unknown flag
        #expect(try f.ranges(11, [(32760, 16, 0)]) == 1)       // beyond capacity
        #expect(try f.ranges(11, Array(repeating: (0, 8, 0), count: 33)) == 1) // too many segments
    }

    @Test("AVPS-v2.0 §2.6.1 WRITE_ZEROES: the range reads back as zeroes, with and without unmap")
    func writeZeroesZeroes() throws {
        let f = try BlockFixture(sizeMiB: 16)
        #expect(try f.write(sector: 0, bytes: pattern(1 << 20, seed: 5)) == 0)
        #expect(try f.ranges(13, [(1, 3, 0)]) == 0)              // unaligned is fine for write zeroes
        #expect(try f.ranges(13, [(1024, 1024, 1)]) == 0)        // with unmap: a hole
        let (_, back) = try f.read(sector: 0, count: 1 << 20)
        #expect(back[0..<512] == pattern(1 << 20, seed: 5)[0..<512])
        #expect(back[512..<2048].allSatisfy { $0 == 0 })
        #expect(back[2048..<(512 * 1024)] == pattern(1 << 20, seed: 5)[2048..<(512 * 1024)])
        #expect(back[(512 * 1024)...].allSatisfy { $0 == 0 })
        #expect(try f.ranges(13, [(0, 8, 2)]) == 2)              // unknown flag
    }

    @Test("AVPS-v2.0-6: the driver switches the write cache at run time (CONFIG_WCE)")
    func writeCacheSwitch() throws {
        let f = try BlockFixture()
        _ = try f.write(sector: 0, bytes: pattern(512, seed: 1))
        #expect(f.device.statistics.writeThroughWrites == 0)
        try f.driver.frontend.sendAcked(.setConfig(offset: UInt32(BlockConfiguration.writebackOffset), flags: 0, bytes: [0]))
        #expect(try f.driver.frontend.getConfig(offset: 32, size: 1) == [0])
        _ = try f.write(sector: 0, bytes: pattern(512, seed: 2))
        #expect(f.device.statistics.writeThroughWrites == 1)
        #expect(f.device.statistics.cacheModeChanges == 1)
        // Nothing else in configuration space is writable.
        #expect(throws: VhostUserError.self) { try f.driver.frontend.sendAcked(.setConfig(offset: 0, flags: 0, bytes: [1])) }
        #expect(throws: VhostUserError.self) { try f.driver.frontend.sendAcked(.setConfig(offset: 32, flags: 0, bytes: [2])) }
    }

    @Test("VIRTIO 1.2 §5.2.6.1: without CONFIG_WCE or FLUSH negotiated every write is stable")
    func writesAreStableWhenFlushIsNotNegotiated() throws {
        let f = try BlockFixture(features: { $0 & ~(BlockFeature.flush.rawValue | BlockFeature.configWCE.rawValue) })
        _ = try f.write(sector: 0, bytes: pattern(512, seed: 1))
        #expect(f.device.statistics.writeThroughWrites == 1)
    }

    @Test func writeThroughModeFromTheStart() throws {
        let f = try BlockFixture(configure: { $0.cache = .writethrough })
        #expect(try f.driver.frontend.getConfig(offset: 32, size: 1) == [0])
        _ = try f.write(sector: 0, bytes: pattern(512, seed: 1))
        #expect(f.device.statistics.writeThroughWrites == 1)
    }

    @Test("VIRTIO 1.2 §5.2.6.2: a read-only device fails writes with IOERR and writes nothing")
    func readOnlyDeviceRefusesWrites() throws {
        let f = try BlockFixture(configure: { $0.readOnly = true })
        #expect(VirtioFeatures(rawValue: f.driver.features).contains(BlockFeature.readOnly))
        #expect(!VirtioFeatures(rawValue: f.driver.features).contains(BlockFeature.discard))
        #expect(try f.write(sector: 0, bytes: pattern(512, seed: 9)) == 1)
        #expect(try f.ranges(13, [(0, 8, 0)]) == 2)
        #expect(f.imageBytes.allSatisfy { $0 == 0 })
        #expect(try f.read(sector: 0, count: 512).0 == 0)
    }

    @Test(arguments: ServerEventLoop.allCases)
    func requestsOnSeveralQueuesAreAllServed(loop: ServerEventLoop) throws {
        let f = try BlockFixture(sizeMiB: 16, configure: { $0.queueCount = 4 }, queues: 4, eventLoop: loop)
        for (i, q) in f.driver.queues.enumerated() {
            for j in 0..<8 {
                let data = try f.driver.allocate(4096)
                try data.write(pattern(4096, seed: UInt8(i * 8 + j)))
                let status = try f.driver.allocate(1)
                try q.ring.add(readable: [try f.header(1, sector: UInt64((i * 8 + j) * 8)), data], writable: [status])
            }
            q.kick()
        }
        for q in f.driver.queues { #expect(try q.waitForUsed(count: 8).count == 8) }
        for k in 0..<32 { #expect(try f.read(sector: UInt64(k * 8), count: 4096).1 == pattern(4096, seed: UInt8(k))) }
    }

    /// Adaptive polling: after a request the server keeps looking at the available ring for its
    /// window, so a request published without a kick is served; without polling it waits for one.
    @Test(arguments: [0, 500_000])
    func aRequestWithoutAKickIsServedOnlyWhilePolling(pollMicroseconds: Int) throws {
        let f = try BlockFixture(pollMicroseconds: pollMicroseconds)
        #expect(try f.write(sector: 0, bytes: pattern(512, seed: 1)) == 0)
        let data = try f.driver.allocate(512)
        try data.write(pattern(512, seed: 2))
        let status = try f.driver.allocate(1)
        try f.queue.ring.add(readable: [try f.header(1, sector: 8), data], writable: [status])
        #expect(try f.queue.waitForUsed(timeoutMilliseconds: 300).count == (pollMicroseconds > 0 ? 1 : 0))
    }

    /// O_DIRECT makes the writes truly asynchronous, so they are still in flight when the ring is
    /// stopped, and their completions reach the loop later (on its ring, or through epoll).
    @Test(arguments: ServerEventLoop.allCases)
    func getVringBaseWaitsForRequestsInFlight(loop: ServerEventLoop) throws {
        let f = try BlockFixture(sizeMiB: 64, configure: { $0.direct = true; $0.cache = .writethrough }, eventLoop: loop)
        for i in 0..<40 {
            let data = try f.driver.allocate(64 << 10)
            let status = try f.driver.allocate(1)
            try f.queue.ring.add(readable: [try f.header(1, sector: UInt64(i * 128)), data], writable: [status])
        }
        f.queue.kick()
        // Wait until the device has taken all 40 (it publishes avail_event after draining, EVENT_IDX).
        let deadline = MonotonicClock.seconds() + 5
        while try f.queue.ring.availableEvent() != 40, MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 1) }
        #expect(try f.driver.frontend.getVringBase(0) == 40)
        // Every request the device took is back in the used ring when GET_VRING_BASE answers.
        #expect(try f.queue.ring.deviceUsedIndex() == 40)
    }
}
