import AVPTestSupport
import ArgumentParser
import Foundation
import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// SCMI SENSOR_READING_GET round trips (DEN0056 §4.7.2.6 over virtio-scmi, VIRTIO 1.2 §5.21) as
/// fast as a running `avp serve scmi` answers them: AVP's Swift front end, no guest, a window of
/// commands in flight reading sensor 0. Reports round trips per second and per CPU second of the
/// server.
struct ScmiLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scmi",
        abstract: "SENSOR_READING_GET round trips against a running `avp serve scmi --socket`; prints one key=value line.")

    @Option(help: "The server's vhost-user socket (its VM has sensor 0).") var socket: String
    @Option(help: "PID of the server, for its CPU time.") var serverPid: Int32
    @Option(help: "Commands in flight (Linux's SCMI agent has one at a time: 1).") var window = 1
    @Option(help: "Seconds measured.") var seconds: Double = 5

    func run() throws {
        let size: UInt16 = 256
        let driver = try GuestDriver.start(socketPath: socket, queueSizes: [size, size])
        let queue = driver.queues[0]
        let inFlightLimit = max(1, min(window, Int(size) / 2 - 1))
        // Header: SENSOR_READING_GET (6), protocol 0x15; sensor 0, synchronous.
        let header: UInt32 = 0x6 | 0x15 << 10
        let request = try driver.allocate(12)
        try request.write([UInt8(header & 0xFF), UInt8((header >> 8) & 0xFF), UInt8((header >> 16) & 0xFF), 0] + [UInt8](repeating: 0, count: 8))
        let responses = try (0..<inFlightLimit).map { _ in try driver.allocate(24) }
        var free = responses, byHead: [UInt16: GuestSlice] = [:]
        var completed = 0, errors = 0
        var meter = ServerCPUWindow(serverPid: serverPid, seconds: seconds, unit: "round_trips")
        while true {
            while let response = free.popLast() {
                byHead[try queue.ring.add(readable: [request], writable: [response])] = response
            }
            queue.kick()
            for used in try queue.ring.collectUsed() {
                guard let response = byHead.removeValue(forKey: used.head) else { continue }
                let status = try response.bytes(at: 4, count: 4)
                if used.length != 24 || status != [0, 0, 0, 0] { errors += 1 }
                free.append(response)
                completed += 1
            }
            if meter.finished(completed: completed, errors: errors) { return }
            if free.isEmpty { _ = queue.callEvent.wait(timeoutMilliseconds: 1) }
        }
    }
}
