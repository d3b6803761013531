import AVPTestSupport
import ArgumentParser
import Foundation
import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// A scripted virtio-gpio driver (VIRTIO 1.2 §5.17.6, §5.17.7) against a running
/// `avp serve gpio --socket`: AVP's Swift front end, one step at a time, in the order given.
/// Real-guest tests run it inside a guest next to the server, so a step can be a shell command
/// (`sh:`) that pulls a gpio-sim line or reads what the server drives. Prints one line per step;
/// exits with the number of steps that failed.
struct GpioProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpio-probe",
        abstract: "Scripted GPIO requests against a running `avp serve gpio --socket`, in the order given.",
        discussion: """
            Steps (LINE is the VM's line number):
              out:LINE=V       SET_VALUE V, then SET_DIRECTION output
              set:LINE=V       SET_VALUE V
              in:LINE          SET_DIRECTION input
              get:LINE         GET_VALUE; prints getLINE=V
              irq:LINE=TYPE    SET_IRQ_TYPE (none, rising, falling, both, high, low); unless none, queues the
                               line's eventq buffer (unmask)
              wait-irq:LINE    waits for that buffer; prints irqLINE=valid|invalid|timeout
              sh:COMMAND       runs COMMAND with /bin/sh
            """)

    @Option(help: "The server's vhost-user socket.") var socket: String
    @Option(name: .customLong("step"), help: "A step (repeat; run in order).") var steps: [String] = []
    @Option(help: "Milliseconds wait-irq and each request wait.") var timeout = 10_000

    func run() throws {
        let parsed = try steps.map { text throws(ValidationError) in try GpioProbeStep(parsing: text) }
        let driver = try GuestDriver.start(socketPath: socket, queueSizes: [16, 16])
        var probe = GpioProbeDriver(driver: driver, timeoutMilliseconds: timeout)
        var failures = 0
        for (text, step) in zip(steps, parsed) {
            let (line, ok) = try probe.perform(step)
            print(line ?? "\(text) -> \(ok ? "ok" : "error")")
            fflush(nil)   // stdout is fully buffered on a pipe; a sh: step writes to it too
            if !ok { failures += 1 }
        }
        if failures > 0 { throw ExitCode(Int32(min(failures, 100))) }
    }
}

/// One `--step` of `avp-bench gpio-probe`.
enum GpioProbeStep: Equatable {
    case output(line: UInt16, value: Bool)
    case setValue(line: UInt16, value: Bool)
    case input(line: UInt16)
    case getValue(line: UInt16)
    case irq(line: UInt16, trigger: UInt32)
    case waitIRQ(line: UInt16)
    case shell(String)

    static let triggers: [String: UInt32] = ["none": 0, "rising": 1, "falling": 2, "both": 3, "high": 4, "low": 8]

    init(parsing text: String) throws(ValidationError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ValidationError("step '\(text)': KIND:ARGUMENT") }
        let argument = parts[1]
        func line(_ s: String) throws(ValidationError) -> UInt16 {
            guard let l = UInt16(s) else { throw ValidationError("step '\(text)': '\(s)' is not a line number") }
            return l
        }
        func pair() throws(ValidationError) -> (UInt16, String) {
            let kv = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw ValidationError("step '\(text)': LINE=VALUE") }
            return (try line(kv[0]), kv[1])
        }
        func bit(_ s: String) throws(ValidationError) -> Bool {
            guard s == "0" || s == "1" else { throw ValidationError("step '\(text)': value '\(s)' is not 0 or 1") }
            return s == "1"
        }
        switch parts[0] {
        case "out": let (l, v) = try pair(); self = .output(line: l, value: try bit(v))
        case "set": let (l, v) = try pair(); self = .setValue(line: l, value: try bit(v))
        case "in": self = .input(line: try line(argument))
        case "get": self = .getValue(line: try line(argument))
        case "irq":
            let (l, t) = try pair()
            guard let trigger = Self.triggers[t] else { throw ValidationError("step '\(text)': no interrupt type '\(t)'") }
            self = .irq(line: l, trigger: trigger)
        case "wait-irq": self = .waitIRQ(line: try line(argument))
        case "sh": self = .shell(argument)
        default: throw ValidationError("step '\(text)': unknown kind '\(parts[0])'")
        }
    }
}

/// The driver side of the probe: a synchronous requestq and one eventq buffer per armed line.
struct GpioProbeDriver {
    let driver: GuestDriver
    let timeoutMilliseconds: Int
    /// Each armed line's eventq buffer: its chain head and response byte.
    private var armed: [UInt16: (head: UInt16, response: GuestSlice)] = [:]
    /// Returned eventq buffers not yet waited for, by line: their status byte.
    private var fired: [UInt16: UInt8] = [:]

    init(driver: GuestDriver, timeoutMilliseconds: Int) {
        self.driver = driver
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Carries out `step`: the line to print (nil: the step's text and ok/error) and whether it succeeded.
    mutating func perform(_ step: GpioProbeStep) throws -> (String?, Bool) {
        switch step {
        case let .output(line, value):
            let set = try request(type: 5, line: line, value: value ? 1 : 0)
            let direction = try request(type: 3, line: line, value: 1)
            return (nil, set.status == 0 && direction.status == 0)
        case let .setValue(line, value): return (nil, try request(type: 5, line: line, value: value ? 1 : 0).status == 0)
        case let .input(line): return (nil, try request(type: 3, line: line, value: 2).status == 0)
        case let .getValue(line):
            let r = try request(type: 4, line: line, value: 0)
            return ("get\(line)=\(r.status == 0 ? String(r.value) : "error")", r.status == 0)
        case let .irq(line, trigger):
            guard try request(type: 6, line: line, value: trigger).status == 0 else { return (nil, false) }
            if trigger != 0, armed[line] == nil { try arm(line) }
            return (nil, true)
        case let .waitIRQ(line):
            let status = try waitIRQ(line)
            let text = status.map { $0 == 1 ? "valid" : "invalid" } ?? "timeout"
            return ("irq\(line)=\(text)", status == 1)
        case let .shell(command):
            let status = system(command)
            return ("sh -> \(status)", status == 0)
        }
    }

    /// One request on the requestq, answered before the next: (status, value).
    private func request(type: UInt16, line: UInt16, value: UInt32) throws -> (status: UInt8, value: UInt8) {
        let queue = driver.queues[0]
        let message = try driver.allocate(8), response = try driver.allocate(2)
        try message.write([UInt8(type & 0xff), UInt8(type >> 8), UInt8(line & 0xff), UInt8(line >> 8),
                           UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)])
        try response.write([0xff, 0xff])
        try queue.ring.add(readable: [message], writable: [response])
        queue.kick()
        guard try !queue.waitForUsed(timeoutMilliseconds: timeoutMilliseconds).isEmpty else {
            throw ValidationError("no answer to request type \(type) on line \(line) in \(timeoutMilliseconds) ms")
        }
        let bytes = try response.bytes(count: 2)
        return (bytes[0], bytes[1])
    }

    /// §5.17.7: the line's `virtio_gpio_irq_request` on the eventq, unmasking its interrupt.
    private mutating func arm(_ line: UInt16) throws {
        let queue = driver.queues[1]
        let message = try driver.allocate(2), response = try driver.allocate(1)
        try message.write([UInt8(line & 0xff), UInt8(line >> 8)])
        try response.write([0xff])
        armed[line] = (try queue.ring.add(readable: [message], writable: [response]), response)
        queue.kick()
    }

    /// The status the device wrote into `line`'s eventq buffer, or nil if it kept it past the timeout.
    private mutating func waitIRQ(_ line: UInt16) throws -> UInt8? {
        let queue = driver.queues[1]
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while fired[line] == nil {
            for used in try queue.waitForUsed(timeoutMilliseconds: 50) {
                guard let (l, entry) = armed.first(where: { $0.value.head == used.head }) else { continue }
                armed[l] = nil
                fired[l] = try entry.response.bytes(count: 1)[0]
            }
            if MonotonicClock.nanoseconds() >= deadline { break }
        }
        return fired.removeValue(forKey: line)
    }
}
