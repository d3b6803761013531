import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// A block device served in-process on a fresh image, driven by the Swift front end.
final class BlockFixture {
    let directory: String
    let imagePath: String
    let socketPath: String
    let device: BlockDevice
    let server: VhostUserServer
    let driver: GuestDriver
    var queue: DriverQueue { driver.queues[0] }

    init(sizeMiB: Int = 16, configure: (inout BlockDeviceOptions) -> Void = { _ in }, queues: Int = 1,
         features: ((UInt64) -> UInt64)? = nil, eventLoop: ServerEventLoop? = nil, pollMicroseconds: Int? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-blk-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        imagePath = directory + "/disk.img"
        socketPath = directory + "/blk.sock"
        FileManager.default.createFile(atPath: imagePath, contents: nil)
        try FileDescriptor.open(imagePath, flags: O_RDWR).truncate(to: Int64(sizeMiB) << 20)
        var options = BlockDeviceOptions(imagePath: imagePath)
        options.queueCount = queues
        configure(&options)
        let logger = Logger(label: "test.block")
        device = try BlockDevice(options: options, logger: logger)
        server = try VhostUserServer(socketPath: socketPath, device: device, logger: logger, eventLoop: eventLoop,
                                     pollMicroseconds: pollMicroseconds)
        try server.start()
        let frontend = try VhostUserFrontend.connect(to: socketPath)
        driver = try GuestDriver(frontend: frontend, memorySize: 32 << 20)
        let offered = try frontend.getFeatures()
        try driver.negotiate(features: features.map { $0(offered) } ?? offered)
        try driver.shareMemory()
        for i in 0..<queues { try driver.startQueue(index: i, size: 128) }
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A request header (type, sector) in guest memory.
    func header(_ type: UInt32, sector: UInt64 = 0) throws -> GuestSlice {
        let h = try driver.allocate(16)
        try h.store(type, at: 0)
        try h.store(UInt32(0), at: 4)
        try h.store(sector, at: 8)
        return h
    }

    /// Sends one request and returns (status byte, used length).
    func send(readable: [GuestSlice], writable: [GuestSlice], on queue: DriverQueue? = nil) throws -> (UInt8, UInt32) {
        let q = queue ?? self.queue
        let status = try driver.allocate(1)
        try status.store(UInt8(0xff), at: 0)
        try q.ring.add(readable: readable, writable: writable + [status])
        q.kick()
        let used = try q.waitForUsed()
        try #require(used.count == 1)
        return (try status.load(UInt8.self, at: 0), used[0].length)
    }

    func read(sector: UInt64, count: Int) throws -> (UInt8, [UInt8]) {
        let data = try driver.allocate(count)
        let (status, _) = try send(readable: [try header(0, sector: sector)], writable: [data])
        return (status, try data.bytes(count: count))
    }

    func write(sector: UInt64, bytes: [UInt8]) throws -> UInt8 {
        let data = try driver.allocate(bytes.count)
        try data.write(bytes)
        return try send(readable: [try header(1, sector: sector), data], writable: []).0
    }

    func ranges(_ type: UInt32, _ list: [(UInt64, UInt32, UInt32)]) throws -> UInt8 {
        let payload = try driver.allocate(16 * list.count)
        for (i, r) in list.enumerated() {
            try payload.store(r.0, at: 16 * i)
            try payload.store(r.1, at: 16 * i + 8)
            try payload.store(r.2, at: 16 * i + 12)
        }
        return try send(readable: [try header(type), payload], writable: []).0
    }

    var imageBytes: [UInt8] { [UInt8](FileManager.default.contents(atPath: imagePath) ?? Data()) }

    /// Blocks the host file system has allocated for the image (stat st_blocks × 512).
    var allocatedBytes: Int {
        var st = stat()
        stat(imagePath, &st)
        return Int(st.st_blocks) * 512
    }
}

func pattern(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }
