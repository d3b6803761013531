import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import Platform
import SystemCalls
import Testing
import VhostUser
import Virtio

/// AVP's own virtio-console device (for VMMs with a vhost-user console front end; stock
/// QEMU 10.0 has none), driven through the multiport handshake by the Swift front end.
@Suite struct ConsoleDeviceHandshake {
    @Test("AVPS-v2.0-46: multiport handshake makes port 0 the console; bytes flow to the hub's log and back")
    func handshakeAndData() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-console-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logger = Logger(label: "test.console")
        let hub = try ConsoleHub(guestSocket: dir + "/guest.sock", attachSocket: dir + "/attach.sock", logPath: dir + "/console.log", logger: logger)
        try hub.start()
        defer { hub.stop() }
        let device = try ConsoleDevice(hostSocket: dir + "/guest.sock", logger: logger)
        let server = try VhostUserServer(socketPath: dir + "/vu.sock", device: device, logger: logger)
        try server.start()
        defer { server.stop() }

        let driver = try GuestDriver.start(socketPath: dir + "/vu.sock", queueSizes: [16, 16, 16, 16])
        #expect(VirtioFeatures(rawValue: driver.features).contains(ConsoleDevice.multiport))
        let config = try driver.frontend.getConfig(offset: 0, size: 12)
        #expect(config[4] == 1, "max_nr_ports")
        let (rx, tx, crx, ctx) = (driver.queues[0], driver.queues[1], driver.queues[2], driver.queues[3])
        let controlBuffers = try (0..<4).map { _ in try driver.allocate(8) }
        for b in controlBuffers { try crx.ring.add(writable: [b]) }
        crx.kick()

        func sendControl(_ message: ConsoleControl) throws {
            let b = try driver.allocate(8)
            try b.write(message.bytes)
            try ctx.ring.add(readable: [b])
            ctx.kick()
        }
        func receivedControl(_ count: Int) throws -> [ConsoleControl] {
            let used = try crx.waitForUsed(count: count)
            return try used.map { u in ConsoleControl(try controlBuffers[Int(u.head) % 4].bytes(count: 8))! }
        }

        try sendControl(ConsoleControl(port: 0, event: .deviceReady, value: 1))
        let add = try receivedControl(1)
        #expect(add.first == ConsoleControl(port: 0, event: .deviceAdd, value: 1))
        try sendControl(ConsoleControl(port: 0, event: .portReady, value: 1))
        _ = try crx.waitForUsed(count: 1, timeoutMilliseconds: 2000)
        #expect(device.portReady)

        // Guest → host: appears in the hub's log.
        let text = try driver.allocate(6)
        try text.write(Array("hello\n".utf8))
        try tx.ring.add(readable: [text])
        tx.kick()
        #expect(try tx.waitForUsed().count == 1)
        let deadline = MonotonicClock.seconds() + 3
        while !(String(decoding: FileManager.default.contents(atPath: dir + "/console.log") ?? Data(), as: UTF8.self).contains("hello")),
              MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 10) }
        #expect(String(decoding: FileManager.default.contents(atPath: dir + "/console.log") ?? Data(), as: UTF8.self) == "hello\n")

        // Host → guest: a client types; the guest's receive buffer gets it.
        let input = try driver.allocate(64)
        try rx.ring.add(writable: [input])
        rx.kick()
        let client = try UnixSocket.connect(to: dir + "/attach.sock")
        _ = try client.receive(upTo: 64)   // the hub replays recent output first
        try client.send(Array("ls\n".utf8))
        let used = try rx.waitForUsed()
        #expect(used.first?.length == 3)
        #expect(try input.bytes(count: 3) == Array("ls\n".utf8))
    }
}
