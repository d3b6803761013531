import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// One simulated GPIO block with VMs on it, each device on its vhost-user server and driven by
/// the Swift front end the way Linux's gpio-virtio does (VIRTIO 1.2 §5.17): a request and a
/// response buffer per message on the requestq, one 2-byte request and 1-byte response per
/// unmasked line on the eventq.
final class GpioFixture {
    static let blockLines = ["door-open", "reverse-gear", "ignition", "seat-heater"]

    let directory: String
    let lines: SimulatedGpioLines
    let block: GpioBlock
    private(set) var devices: [GpioDevice] = []
    private(set) var servers: [VhostUserServer] = []
    private(set) var drivers: [GpioDriverSide] = []

    /// VM "ivi" owns door-open and reverse-gear and reads ignition; VM "cluster" owns seat-heater and reads ignition and reverse-gear.
    init(features: UInt64? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-gpio-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let logger = Logger(label: "test.gpio")
        lines = SimulatedGpioLines(names: Self.blockLines)
        block = try GpioBlock(provider: lines, logger: logger)
        for (vm, owned, readOnly) in [("ivi", ["door-open", "reverse-gear"], ["ignition"]),
                                      ("cluster", ["seat-heater"], ["ignition", "reverse-gear"])] {
            let device = try GpioDevice(vm: vm, map: try GpioLineMap(block: block, owned: owned, readOnly: readOnly), block: block, logger: logger)
            let server = try VhostUserServer(socketPath: "\(directory)/\(vm).sock", device: device, logger: logger)
            try server.start()
            devices.append(device)
            servers.append(server)
            drivers.append(GpioDriverSide(try GuestDriver.start(socketPath: "\(directory)/\(vm).sock", queueSizes: [16, 16], features: features)))
        }
    }

    deinit {
        for server in servers { server.stop() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var ivi: GpioDriverSide { drivers[0] }
    var cluster: GpioDriverSide { drivers[1] }
}

/// The driver's side of one VM's device.
final class GpioDriverSide {
    let driver: GuestDriver
    /// eventq buffers posted, by head: the line and its response byte.
    private var posted: [UInt16: (line: UInt16, response: GuestSlice)] = [:]

    init(_ driver: GuestDriver) { self.driver = driver }

    var requestq: DriverQueue { driver.queues[0] }
    var eventq: DriverQueue { driver.queues[1] }

    /// Sends raw request bytes with a response buffer of `responseSize`; returns the used length and the response.
    func raw(_ request: [UInt8], responseSize: Int) throws -> (length: UInt32, bytes: [UInt8]) {
        let req = try driver.allocate(max(request.count, 1))
        try req.write(request)
        let response = responseSize > 0 ? try driver.allocate(responseSize) : nil
        try response?.write([UInt8](repeating: 0xEE, count: responseSize))
        let head = try requestq.ring.add(readable: request.isEmpty ? [] : [req.subslice(at: 0, count: request.count)],
                                         writable: response.map { [$0] } ?? [])
        requestq.kick()
        let used = try requestq.waitForUsed()
        let element = try #require(used.first { $0.head == head })
        return (element.length, try response?.bytes(count: responseSize) ?? [])
    }

    /// One message: status and the response's value bytes.
    func request(_ type: UInt16, line: UInt16 = 0, value: UInt32 = 0, responseSize: Int = 2) throws -> (status: UInt8, value: [UInt8]) {
        var bytes: [UInt8] = [UInt8(type & 0xFF), UInt8(type >> 8), UInt8(line & 0xFF), UInt8(line >> 8)]
        bytes += (0..<4).map { UInt8((value >> (8 * UInt32($0))) & 0xFF) }
        let (length, response) = try raw(bytes, responseSize: responseSize)
        #expect(Int(length) == responseSize)
        return (response[0], Array(response.dropFirst()))
    }

    func setDirection(_ line: UInt16, _ d: GpioDirection) throws -> UInt8 { try request(3, line: line, value: UInt32(d.rawValue)).status }
    func setValue(_ line: UInt16, _ v: Bool) throws -> UInt8 { try request(5, line: line, value: v ? 1 : 0).status }
    func getValue(_ line: UInt16) throws -> UInt8? {
        let r = try request(4, line: line)
        return r.status == 0 ? r.value[0] : nil
    }
    func setTrigger(_ line: UInt16, _ t: GpioTrigger) throws -> UInt8 { try request(6, line: line, value: t.rawValue).status }

    /// Unmasks `line`'s interrupt: queues its request/response pair on the eventq.
    func unmask(_ line: UInt16, requestBytes: [UInt8]? = nil) throws {
        let bytes = requestBytes ?? [UInt8(line & 0xFF), UInt8(line >> 8)]
        let req = try driver.allocate(max(bytes.count, 1))
        try req.write(bytes)
        let response = try driver.allocate(1)
        try response.write([0xEE])
        let head = try eventq.ring.add(readable: [try req.subslice(at: 0, count: bytes.count)], writable: [response])
        posted[head] = (line, response)
        eventq.kick()
    }

    /// Buffers the device returned within `milliseconds`: (line, status) in order.
    func interrupts(waiting milliseconds: Int = 300, count: Int = 1) throws -> [(line: UInt16, status: UInt8)] {
        try eventq.waitForUsed(count: count, timeoutMilliseconds: milliseconds).map { u in
            let taken = posted.removeValue(forKey: u.head)
            let p = try #require(taken)
            #expect(u.length == 1)
            return (p.line, try p.response.bytes(count: 1)[0])
        }
    }
}
