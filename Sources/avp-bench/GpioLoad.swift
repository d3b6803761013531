import AVPTestSupport
import ArgumentParser
import Foundation
import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// virtio-gpio requests (VIRTIO 1.2 §5.17.6) as fast as a running `avp serve gpio` answers them:
/// AVP's Swift front end, no guest, a window of requests in flight alternating SET_VALUE and
/// GET_VALUE on line 0 (an output). Reports requests per second and per CPU second of the server.
struct GpioLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpio",
        abstract: "GPIO requests against a running `avp serve gpio --socket`; prints one key=value line.")

    @Option(help: "The server's vhost-user socket (its VM owns line 0).") var socket: String
    @Option(help: "PID of the server, for its CPU time.") var serverPid: Int32
    @Option(help: "Requests in flight.") var window = 64
    @Option(help: "Seconds measured.") var seconds: Double = 5

    func run() throws {
        let size: UInt16 = 256
        let driver = try GuestDriver.start(socketPath: socket, queueSizes: [size, size])
        let queue = driver.queues[0]
        let inFlightLimit = max(1, min(window, Int(size) / 2 - 1))
        func message(_ type: UInt16, _ value: UInt32) throws -> GuestSlice {
            let s = try driver.allocate(8)
            try s.write([UInt8(type), 0, 0, 0, UInt8(value), 0, 0, 0])
            return s
        }
        let output = try message(3, 1), set1 = try message(5, 1), set0 = try message(5, 0), get = try message(4, 0)
        let responses = try (0..<inFlightLimit).map { _ in try driver.allocate(2) }
        try queue.ring.add(readable: [output], writable: [responses[0]])
        queue.kick()
        _ = try queue.waitForUsed()
        var free = responses, byHead: [UInt16: GuestSlice] = [:]
        var completed = 0, errors = 0, n = 0
        var meter = ServerCPUWindow(serverPid: serverPid, seconds: seconds, unit: "requests")
        while true {
            while let response = free.popLast() {
                let request = [set1, get, set0, get][n & 3]
                n += 1
                byHead[try queue.ring.add(readable: [request], writable: [response])] = response
            }
            queue.kick()
            for used in try queue.ring.collectUsed() {
                guard let response = byHead.removeValue(forKey: used.head) else { continue }
                if try response.bytes(count: 1)[0] != 0 { errors += 1 }
                free.append(response)
                completed += 1
            }
            if meter.finished(completed: completed, errors: errors) { return }
            if free.isEmpty { _ = queue.callEvent.wait(timeoutMilliseconds: 1) }
        }
    }
}
