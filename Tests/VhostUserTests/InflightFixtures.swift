#if canImport(Glibc)
import Glibc
#endif
import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Testing
import VhostUser
import Virtio

/// A device that opts in to inflight tracking and completes only the requests whose first
/// readable byte is 1 (or all, with `completeAll`). The rest it holds, and on a stop or reset
/// it drops them without completing them: what a server killed mid-request leaves behind.
final class HoldingDevice: VirtioDevice, InflightTrackingDevice, @unchecked Sendable {
    let deviceType = VirtioDeviceType.entropy
    let queueCount = 1
    var deviceFeatures: VirtioFeatures { [] }
    let completeAll: Bool
    private let taken = Mutex<[UInt16]>([])
    private var held: [DescriptorChain] = []

    init(completeAll: Bool) { self.completeAll = completeAll }

    /// Heads the device has taken, in order (read from any thread).
    var popped: [UInt16] { taken.withLock { $0 } }

    func process(_ queue: DeviceQueue) {
        repeat {
            while let chain = queue.pop() {
                taken.withLock { $0.append(chain.head) }
                var reader = chain.reader()
                if completeAll || (try? reader.read(UInt8.self)) == 1 {
                    queue.complete(chain, written: 0)
                } else {
                    held.append(chain)
                }
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    func reset() { held.removeAll() }

    /// Waits until `count` heads were taken.
    func waitForPopped(_ count: Int) -> [UInt16] {
        let deadline = MonotonicClock.seconds() + 5
        while popped.count < count, MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 5) }
        return popped
    }
}

/// A server on a fresh socket path, stopped when the fixture goes.
final class InflightServerFixture {
    let path: String
    let server: VhostUserServer

    init(device: VirtioDevice) throws {
        path = "/tmp/avp-inflight-\(try SystemRandom.uint64()).sock"
        server = try VhostUserServer(socketPath: path, device: device, logger: Logger(label: "test.inflight"))
        try server.start()
    }

    deinit { server.stop() }

    /// A front end that negotiated (INFLIGHT_SHMFD if `inflight`) and shared its RAM.
    func driver(inflight: Bool = true) throws -> GuestDriver {
        let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: path))
        try driver.negotiate(inflight: inflight)
        return driver
    }

    func waitForDisconnect(after count: Int) {
        let deadline = MonotonicClock.seconds() + 5
        while (server.connectionCount < count || server.isConnected) && MonotonicClock.seconds() < deadline {
            MonotonicClock.sleep(milliseconds: 5)
        }
    }
}

/// A 1 MiB block image in a directory of its own.
final class InflightImage {
    let directory: String
    let path: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-inflight-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/disk.img"
        FileManager.default.createFile(atPath: path, contents: nil)
        try FileDescriptor.open(path, flags: O_RDWR).truncate(to: 1 << 20)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func device() throws -> BlockDevice {
        try BlockDevice(options: BlockDeviceOptions(imagePath: path), logger: Logger(label: "test.inflight.block"))
    }

    func sector(_ n: UInt64) -> [UInt8] {
        let bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
        return Array(bytes[Int(n) * 512..<Int(n + 1) * 512])
    }
}

extension GuestDriver {
    /// Publishes (does not kick) a virtio-blk write of `fill` bytes to `sector`; its head and status byte.
    func publishWrite(on queue: DriverQueue, sector: UInt64, fill: UInt8) throws -> (head: UInt16, status: GuestSlice) {
        let header = try allocate(16)
        try header.store(UInt32(1), at: 0)
        try header.store(sector, at: 8)
        let data = try allocate(512)
        try data.write([UInt8](repeating: fill, count: 512))
        let status = try allocate(1)
        try status.store(UInt8(0xff), at: 0)
        return (try queue.ring.add(readable: [header, data], writable: [status]), status)
    }
}
