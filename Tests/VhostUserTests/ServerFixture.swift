import AVPTestSupport
import Devices
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// An entropy device served on a fresh socket for one test.
final class ServerFixture {
    let path: String
    let server: VhostUserServer
    let device: EntropyDevice

    init() throws {
        path = "/tmp/avp-test-\(try SystemRandom.uint64()).sock"
        let logger = Logger(label: "test.server")
        device = EntropyDevice(logger: logger)
        server = try VhostUserServer(socketPath: path, device: device, logger: logger)
        try server.start()
    }

    deinit { server.stop() }

    func driver(features: UInt64? = nil, queueSize: UInt16 = 16) throws -> GuestDriver {
        try GuestDriver.start(socketPath: path, queueSizes: [queueSize], features: features)
    }

    /// Waits until the server has seen `count` connections and none is open.
    func waitForDisconnect(after count: Int) {
        let deadline = MonotonicClock.seconds() + 5
        while (server.connectionCount < count || server.isConnected) && MonotonicClock.seconds() < deadline {
            MonotonicClock.sleep(milliseconds: 5)
        }
    }
}

/// Bytes look random: not constant, and no 64-byte block repeated.
func looksRandom(_ bytes: [UInt8]) -> Bool {
    guard Set(bytes).count > 1 else { return false }
    var blocks = Set<[UInt8]>()
    for start in stride(from: 0, to: bytes.count - 63, by: 64) {
        guard blocks.insert(Array(bytes[start..<start + 64])).inserted else { return false }
    }
    return true
}
