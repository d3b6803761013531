import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// One SCMI server with two VMs, each device on its vhost-user server and driven by the Swift
/// front end the way Linux's scmi virtio transport does (VIRTIO 1.2 §5.21): a request and a
/// response buffer per command on the cmdq, device-writable buffers on the eventq.
final class ScmiFixture {
    let directory: String
    let signals: ScmiSignals
    let host: ScmiHost
    private(set) var devices: [ScmiDevice] = []
    private(set) var servers: [VhostUserServer] = []
    private(set) var drivers: [ScmiDriverSide] = []

    static let csv = """
        time_s,speed,coolant,battery
        0,0,20,12.5
        100,10,70,14.5
        """

    /// Sensors speed (m/s), coolant (°C), battery (V); performance domain "cpu" (levels 600000,
    /// 1200000, 1800000 kHz) shared by both VMs; power domains "gpu" (both) and "audio" (ivi);
    /// reset domain "modem" (ivi). VM "ivi" sees coolant, speed, cpu, gpu, audio, modem;
    /// VM "cluster" sees battery, cpu, gpu.
    init(features: UInt64? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-scmi-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let logger = Logger(label: "test.scmi")
        signals = try ScmiSignals(trace: try ScmiSignalTrace(csv: Self.csv), constants: ["cabin": 21.5])
        let topology = try ScmiHostTopology(
            sensors: [ScmiHostSensor(name: "speed", unit: .metersPerSecond, source: try ScmiSignalSensor(signals: signals, signal: "speed")),
                      ScmiHostSensor(name: "coolant", unit: .celsius, source: try ScmiSignalSensor(signals: signals, signal: "coolant")),
                      ScmiHostSensor(name: "battery", unit: .volts, source: try ScmiSignalSensor(signals: signals, signal: "battery"))],
            performance: [try ScmiPerformanceDomain(name: "cpu", levels: [600_000, 1_200_000, 1_800_000])],
            power: [try ScmiPowerDomain(name: "gpu"), try ScmiPowerDomain(name: "audio")],
            reset: ["modem"])
        host = ScmiHost(topology: topology, logger: logger)
        let views = [try ScmiAgentView(vm: "ivi", topology: topology, sensors: ["coolant", "speed"], performance: ["cpu"],
                                       power: ["gpu", "audio"], reset: ["modem"]),
                     try ScmiAgentView(vm: "cluster", topology: topology, sensors: ["battery"], performance: ["cpu"], power: ["gpu"], reset: [])]
        for view in views {
            let device = try ScmiDevice(view: view, host: host, logger: logger)
            let server = try VhostUserServer(socketPath: "\(directory)/\(view.vm).sock", device: device, logger: logger)
            try server.start()
            devices.append(device)
            servers.append(server)
            drivers.append(ScmiDriverSide(try GuestDriver.start(socketPath: "\(directory)/\(view.vm).sock", queueSizes: [16, 16], features: features)))
        }
    }

    deinit {
        for server in servers { server.stop() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var ivi: ScmiDriverSide { drivers[0] }
    var cluster: ScmiDriverSide { drivers[1] }
}

/// The driver's side of one VM's SCMI device.
final class ScmiDriverSide {
    let driver: GuestDriver
    private var token: UInt16 = 0
    private var posted: [UInt16: GuestSlice] = [:]

    init(_ driver: GuestDriver) { self.driver = driver }

    var cmdq: DriverQueue { driver.queues[0] }
    var eventq: DriverQueue { driver.queues[1] }

    /// Sends raw bytes with a response buffer of `responseSize`; the used length and the response.
    func raw(_ request: [UInt8], responseSize: Int = 136) throws -> (length: UInt32, bytes: [UInt8]) {
        let req = try driver.allocate(max(request.count, 1))
        try req.write(request)
        let response = responseSize > 0 ? try driver.allocate(responseSize) : nil
        try response?.write([UInt8](repeating: 0xEE, count: responseSize))
        let head = try cmdq.ring.add(readable: request.isEmpty ? [] : [try req.subslice(at: 0, count: request.count)],
                                     writable: response.map { [$0] } ?? [])
        cmdq.kick()
        let used = try cmdq.waitForUsed()
        let element = try #require(used.first { $0.head == head })
        return (element.length, try response?.bytes(count: responseSize) ?? [])
    }

    /// One command: its status and payload (checked: header echoed, length as used).
    func command(_ proto: ScmiProtocolID, _ message: UInt8, _ parameters: [UInt32] = [], responseSize: Int = 136) throws -> (status: Int32, payload: [UInt8]) {
        token = (token + 1) & 0x3FF
        let header = ScmiMessageHeader(messageID: message, protocolID: proto.rawValue, token: token)
        var bytes = ScmiPayloadWriter()
        bytes.u32(header.raw)
        for p in parameters { bytes.u32(p) }
        let (length, response) = try raw(bytes.bytes, responseSize: responseSize)
        #expect(length >= 8)
        #expect(Scmi.u32(response, 0) == header.raw, "the response echoes the header")
        return (Int32(bitPattern: Scmi.u32(response, 4)), Array(response[8..<Int(length)]))
    }

    /// Posts `count` eventq buffers of `size` bytes.
    func postEventBuffers(_ count: Int, size: Int = 136) throws {
        for _ in 0..<count {
            let buffer = try driver.allocate(size)
            let head = try eventq.ring.add(writable: [buffer])
            posted[head] = buffer
        }
        eventq.kick()
    }

    /// Notifications returned within `milliseconds`.
    func notifications(count: Int = 1, waiting milliseconds: Int = 3000) throws -> [[UInt8]] {
        try eventq.waitForUsed(count: count, timeoutMilliseconds: milliseconds).map { u in
            let taken = posted.removeValue(forKey: u.head)
            let buffer = try #require(taken)
            return try buffer.bytes(count: Int(u.length))
        }
    }
}

enum Scmi {
    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }
    static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    static func i64(_ b: [UInt8], _ at: Int) -> Int64 { Int64(bitPattern: UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32) }
    static func name(_ b: [UInt8], _ at: Int) -> String { String(decoding: b[at..<(at + 16)].prefix { $0 != 0 }, as: UTF8.self) }

    static let success: Int32 = 0
    static let notSupported: Int32 = -1
    static let invalidParameters: Int32 = -2
    static let notFound: Int32 = -4
    static let outOfRange: Int32 = -5
    static let protocolError: Int32 = -10
}
