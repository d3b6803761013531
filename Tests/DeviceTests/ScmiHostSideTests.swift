import Devices
import Foundation
import Logging
import SystemCalls
import Testing

/// The SCMI server's pure parts and host side: message headers and commands (DEN0056 §4.1.2),
/// the signal CSV, host hwmon/IIO files, and the control socket's requests.
@Suite("SCMI parser and host side (AVPS-v2.0-39)")
struct ScmiHostSideTests {
    @Test("message header: fields in bits 7:0, 9:8, 17:10, 27:18; commands parse, others refused")
    func header() throws {
        let h = ScmiMessageHeader(messageID: 0x6, protocolID: 0x15, token: 0x3FF)
        #expect(h.raw == 0x6 | 0x15 << 10 | 0x3FF << 18)
        #expect(ScmiMessageHeader(raw: h.raw | 0xF000_0000) == h, "reserved bits ignored")
        let c = try ScmiCommand.parse([0x06, 0x54, 0x00, 0x00, 1, 0, 0, 0])
        #expect(c.header.protocolID == 0x15 && c.header.messageID == 6 && c.payload == [1, 0, 0, 0])
        #expect(throws: ScmiMessageError.tooShort(3)) { try ScmiCommand.parse([0, 0, 0]) }
        #expect(throws: ScmiMessageError.notACommand(type: 3)) { try ScmiCommand.parse([0, 0x03, 0, 0]) }
        #expect(throws: ScmiMessageError.tooLong(4 + 65)) { try ScmiCommand.parse([UInt8](repeating: 0, count: 4 + 65)) }
        var r = ScmiPayloadReader([1, 0, 0])
        #expect(throws: ScmiStatusError.self) { try r.u32() }
        var w = ScmiPayloadWriter()
        w.name("a-name-longer-than-fifteen")
        #expect(w.bytes.count == 16 && w.bytes[15] == 0)
    }

    @Test("signal CSV: header, rows, loop, interpolation and steps; malformed files refused")
    func trace() throws {
        let t = try ScmiSignalTrace(csv: "# car\ntime_s, speed ,coolant\n0,0,20\n10,10,70\n20,0,70\n")
        #expect(t.signals == ["speed", "coolant"] && t.period == 20)
        #expect(t.value(of: 0, at: 5) == 5 && t.value(of: 1, at: 5) == 45)
        #expect(t.value(of: 0, at: 25) == 5, "looped")
        #expect(t.value(of: 0, at: 15) == 5)
        let s = try ScmiSignalTrace(csv: "time_s,a\n0,1\n10,3\n", mode: .step)
        #expect(s.value(of: 0, at: 9.9) == 1)
        #expect(try ScmiSignalTrace(csv: "time_s,a\n0,7\n").value(of: 0, at: 1234) == 7)
        for (text, error) in [("speed,x\n0,1\n", ScmiTraceError.noHeader), ("time_s\n0\n", .noSignals), ("time_s,a\n", .noRows),
                              ("time_s,a,a\n0,1,1\n", .duplicate("a")), ("time_s,a\n0,1,2\n", .wrongFieldCount(row: 1, 3, expected: 2)),
                              ("time_s,a\n0,x\n", .notANumber(row: 1, "x")), ("time_s,a\n0,inf\n", .notANumber(row: 1, "inf")),
                              ("time_s,a\n1,1\n1,2\n", .timesNotIncreasing(row: 2)), ("time_s,a b\n0,1\n", .badName("a b"))] {
            #expect(throws: error, "\(text)") { try ScmiSignalTrace(csv: text) }
        }
    }

    @Test("signals: the host's value holds until cleared; unknown signals refused")
    func signals() throws {
        let signals = try ScmiSignals(trace: try ScmiSignalTrace(csv: "time_s,a\n0,5\n"), constants: ["b": 2])
        #expect(try signals.value(of: "a") == 5 && signals.value(of: "b") == 2)
        try signals.set("a", to: 9)
        #expect(try signals.value(of: "a") == 9 && signals.isOverridden("a"))
        try signals.clear("a")
        #expect(try signals.value(of: "a") == 5)
        #expect(throws: ScmiSourceError.unknownSignal("c")) { try signals.set("c", to: 1) }
        #expect(throws: ScmiSourceError.notFinite(origin: "signal a")) { try signals.set("a", to: .nan) }
        #expect(throws: ScmiTraceError.duplicate("a")) { try ScmiSignals(trace: try ScmiSignalTrace(csv: "time_s,a\n0,5\n"), constants: ["a": 1]) }
    }

    @Test("host sensor files: hwmon milli-units, IIO raw with offset and scale, unreadable files")
    func hostFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-scmi-host-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "45500\n".write(toFile: dir + "/temp1_input", atomically: true, encoding: .utf8)
        try "12100\n".write(toFile: dir + "/in0_input", atomically: true, encoding: .utf8)
        try "1500000\n".write(toFile: dir + "/power1_input", atomically: true, encoding: .utf8)
        try "100\n".write(toFile: dir + "/in_temp_raw", atomically: true, encoding: .utf8)
        try "250.5\n".write(toFile: dir + "/in_temp_scale", atomically: true, encoding: .utf8)
        try "-20\n".write(toFile: dir + "/in_temp_offset", atomically: true, encoding: .utf8)
        try "not a number\n".write(toFile: dir + "/temp2_input", atomically: true, encoding: .utf8)
        #expect(try ScmiHostSensorFile(path: dir + "/temp1_input").read() == 45.5)
        #expect(try ScmiHostSensorFile(path: dir + "/in0_input").read() == 12.1)
        #expect(try ScmiHostSensorFile(path: dir + "/power1_input").read() == 1.5)
        #expect(try ScmiHostSensorFile(path: dir + "/in_temp_raw").read() == 20.04, "(100 - 20) × 250.5 m°C")
        #expect(throws: ScmiSourceError.self) { try ScmiHostSensorFile(path: dir + "/temp2_input") }
        #expect(throws: ScmiSourceError.self) { try ScmiHostSensorFile(path: dir + "/missing_input") }
    }

    @Test("control socket: status, set, clear, limit; malformed and unknown requests refused")
    func control() throws {
        let signals = try ScmiSignals(trace: nil, constants: ["coolant": 90])
        let host = ScmiHost(topology: try ScmiHostTopology(
            sensors: [ScmiHostSensor(name: "coolant", unit: .celsius, source: try ScmiSignalSensor(signals: signals, signal: "coolant"))],
            performance: [try ScmiPerformanceDomain(name: "cpu", levels: [100, 200, 300])], power: [try ScmiPowerDomain(name: "gpu")],
            reset: ["modem"]), logger: Logger(label: "test.scmi"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-scmi-control-\(try SystemRandom.uint64()).sock").path
        let server = try ScmiControlServer(path: path, host: host, signals: signals, logger: Logger(label: "test.scmi"))
        defer { server.stop() }
        guard case let .status(report) = server.answer(ScmiControlRequest.set(signal: "coolant", value: 104.5).line) else {
            Issue.record("set refused")
            return
        }
        #expect(report.sensors.map(\.name) == ["coolant"] && report.sensors[0].value == 104.5 && report.sensors[0].origin == "signal coolant")
        #expect(report.signals.map(\.name) == ["coolant"] && report.signals[0].value == 104.5 && report.signals[0].set)
        guard case let .status(limited) = server.answer(ScmiControlRequest.limit(domain: "cpu", level: 250).line) else {
            Issue.record("limit refused")
            return
        }
        #expect(limited.performance.first?.level == 200 && limited.performance.first?.limit == 250)
        #expect(host.effectiveLevel(domain: 0) == 200)
        if case let .status(r) = server.answer(ScmiControlRequest.clear(signal: "coolant").line) { #expect(r.sensors[0].value == 90) }
        for line in [Array("nonsense".utf8), ScmiControlRequest.set(signal: "oil", value: 1).line,
                     ScmiControlRequest.limit(domain: "gpu", level: 1).line, [UInt8](repeating: 0x41, count: 2000)] {
            guard case .refused = server.answer(line) else {
                Issue.record("\(String(decoding: line.prefix(60), as: UTF8.self)) was not refused")
                continue
            }
        }
        // Over the socket, as avp scmi asks.
        let socket = try UnixSocket.connect(to: path)
        try socket.send(ScmiControlRequest.status.line + [0x0A])
        var answer: [UInt8] = []
        while !answer.contains(0x0A) { answer += try socket.receive(upTo: 65536).bytes }
        guard case .status = try ScmiControlResponse(line: Array(answer.dropLast())) else {
            Issue.record("no status over the socket")
            return
        }
    }

    @Test("topology: names, levels and views checked")
    func topology() throws {
        #expect(throws: ScmiTopologyError.self) { try ScmiPerformanceDomain(name: "cpu", levels: [2, 1]) }
        #expect(throws: ScmiTopologyError.self) { try ScmiPerformanceDomain(name: "cpu", levels: []) }
        #expect(throws: ScmiTopologyError.badName("sixteen-chars-xx")) { try ScmiPowerDomain(name: "sixteen-chars-xx") }
        #expect(throws: ScmiTopologyError.duplicate("reset domain", "a")) { try ScmiHostTopology(reset: ["a", "a"]) }
        let t = try ScmiHostTopology(reset: ["a", "b"])
        #expect(try ScmiAgentView(vm: "x", topology: t, sensors: [], performance: [], power: [], reset: ["b"]).reset == [1])
        #expect(throws: ScmiTopologyError.unknown("reset domain", "c")) {
            try ScmiAgentView(vm: "x", topology: t, sensors: [], performance: [], power: [], reset: ["c"])
        }
    }
    @Test("three-axis sensor (scmi-iio): axes in the descriptor, AXIS_DESCRIPTION_GET, three readings per read and update")
    func threeAxis() throws {
        let signals = try ScmiSignals(trace: nil, constants: ["accel_x": 1.5, "accel_y": -0.25, "accel_z": 9.81])
        let axes = try ["accel_x", "accel_y", "accel_z"].map { try ScmiSignalSensor(signals: signals, signal: $0) }
        let host = ScmiHost(topology: try ScmiHostTopology(sensors: [ScmiHostSensor(name: "accel", unit: .metersPerSecondSquared, axes: axes)]),
                            logger: Logger(label: "test.scmi"))
        let agent = ScmiAgent(view: ScmiAgentView(vm: "ivi", sensors: [0]), host: host)
        func run(_ message: UInt8, _ parameters: [UInt32]) -> ScmiResponse {
            var w = ScmiPayloadWriter()
            for p in parameters { w.u32(p) }
            return agent.execute(ScmiCommand(header: ScmiMessageHeader(messageID: message, protocolID: 0x15), payload: w.bytes), capacity: 128, now: 1000)
        }
        let d = run(0x3, [0]).payload
        #expect(Scmi.u32(d, 12) == 3 << 16 | 1 << 8 | 0x1D << 11 | 0x59, "three axes, scale -3, m/s²")
        let a = run(0x7, [0, 0])
        #expect(a.status == .success && Scmi.u32(a.payload, 0) == 3)
        #expect([0, 1, 2].map { Scmi.name(a.payload, 4 + 28 * $0 + 12) } == ["accel_X", "accel_Y", "accel_Z"])
        #expect(Scmi.u32(a.payload, 4 + 8) & 0xFF == 0x59)
        #expect(run(0x7, [0, 3]).status == .invalidParameters)
        let r = run(0x6, [0, 0]).payload
        #expect(r.count == 48 && [0, 16, 32].map { Scmi.i64(r, $0) } == [1500, -250, 9810])
        #expect(Scmi.i64(r, 8) == 1000, "timestamped")
        _ = run(0xB, [0, 1])
        let updates = agent.dueNotifications(now: 1000 + 1_000_000_000)
        #expect(updates.count == 1 && updates[0].count == 4 + 8 + 48 && Scmi.i64(updates[0], 12 + 32) == 9810)
    }
}
