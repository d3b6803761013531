import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// An I2C device on a vhost-user server, driven the way Linux's i2c-virtio does: one request
/// per message (out header, optional buffer, status byte), FAIL_NEXT on all but a transfer's
/// last, one kick per transfer (VIRTIO 1.2 §5.16.6).
final class I2cFixture {
    let directory: String
    let device: I2cDevice
    let server: VhostUserServer
    let driver: GuestDriver

    init(bus: I2cBus, queueSize: UInt16 = 256) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-i2c-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        device = I2cDevice(bus: bus, logger: Logger(label: "test.i2c"))
        server = try VhostUserServer(socketPath: directory + "/i2c.sock", device: device, logger: Logger(label: "test.i2c"))
        try server.start()
        driver = try GuestDriver.start(socketPath: directory + "/i2c.sock", queueSizes: [queueSize])
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var queue: DriverQueue { driver.queues[0] }

    /// One request as a test writes it; `raw` overrides the header bytes.
    struct Request {
        var address: UInt8
        var read: Int?
        var write: [UInt8]
        var failNext: Bool
        var header: [UInt8]?
        var status = true

        static func read(_ address: UInt8, _ count: Int, failNext: Bool = false) -> Request {
            Request(address: address, read: count, write: [], failNext: failNext)
        }
        static func write(_ address: UInt8, _ bytes: [UInt8], failNext: Bool = false) -> Request {
            Request(address: address, read: nil, write: bytes, failNext: failNext)
        }

        var headerBytes: [UInt8] {
            if let header { return header }
            let addr = UInt16(address) << 1
            let flags: UInt32 = (failNext ? 1 : 0) | (read != nil ? 2 : 0)
            return [UInt8(addr & 0xFF), UInt8(addr >> 8), 0, 0, UInt8(flags & 0xFF), 0, 0, 0]
        }
    }

    /// What came back for one request: its status (nil: none written) and the bytes read.
    struct Answer: Equatable {
        var status: UInt8?
        var data: [UInt8]
        var used: UInt32
    }

    /// Queues `requests` in order, kicks once, and returns each answer.
    func transfer(_ requests: [Request]) throws -> [Answer] {
        var posted: [(head: UInt16, data: GuestSlice?, status: GuestSlice?)] = []
        for r in requests {
            let header = try driver.allocate(max(r.headerBytes.count, 1))
            try header.write(r.headerBytes)
            var readable = r.headerBytes.isEmpty ? [] : [header]
            var writable: [GuestSlice] = []
            var data: GuestSlice?
            if let count = r.read, count > 0 {
                data = try driver.allocate(count)
                writable.append(data!)
            }
            if !r.write.isEmpty {
                let payload = try driver.allocate(r.write.count)
                try payload.write(r.write)
                readable.append(payload)
            }
            var status: GuestSlice?
            if r.status {
                status = try driver.allocate(1)
                try status!.write([0xAA])
                writable.append(status!)
            }
            posted.append((try queue.ring.add(readable: readable, writable: writable), data, status))
        }
        queue.kick()
        let used = try queue.waitForUsed(count: requests.count)
        #expect(used.count == requests.count)
        #expect(used.map(\.head) == posted.map(\.head), "the device answers in order")
        return try zip(posted, used).map { p, u in
            let status = try p.status.map { try $0.bytes(count: 1)[0] }
            return Answer(status: status == 0xAA ? nil : status, data: try p.data.map { try $0.bytes(count: $0.count) } ?? [], used: u.length)
        }
    }

    /// One request's answer.
    func one(_ request: Request) throws -> Answer { try transfer([request])[0] }
}

extension I2cFixture.Answer {
    var isOK: Bool { status == I2cRequest.statusOK }
    var isError: Bool { status == I2cRequest.statusError }
}
