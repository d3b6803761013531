import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import VhostUser
import Virtio

/// A back end served in-process on a fresh socket (and image) for one probe test.
final class ProbeServer {
    let directory: String
    let socketPath: String
    let imagePath: String
    let server: VhostUserServer

    init(imageMiB: Int = 0, _ makeDevice: (_ imagePath: String) throws -> VirtioDevice) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-probe-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/vu.sock"
        imagePath = directory + "/disk.img"
        if imageMiB > 0 {
            _ = FileManager.default.createFile(atPath: imagePath, contents: nil)
            try FileDescriptor.open(imagePath, flags: O_RDWR).truncate(to: Int64(imageMiB) << 20)
        }
        server = try VhostUserServer(socketPath: socketPath, device: try makeDevice(imagePath), logger: Logger(label: "test.probe"))
        try server.start()
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// AVP's block device on a fresh image of `imageMiB` MiB.
    static func block(imageMiB: Int = 8, wrap: (BlockDevice) -> VirtioDevice = { $0 }) throws -> ProbeServer {
        try ProbeServer(imageMiB: imageMiB) { path in
            wrap(try BlockDevice(options: BlockDeviceOptions(imagePath: path), logger: Logger(label: "test.probe.block")))
        }
    }
}

/// A device that is `inner` with its offer edited: bits withdrawn (a back end that does not offer
/// FLUSH) or added that it does not implement (a back end that offers VIRGL). Added bits are
/// never passed on to `inner` when acknowledged.
final class FeatureEditedDevice: VirtioDevice, @unchecked Sendable {
    let inner: VirtioDevice
    let added: VirtioFeatures
    let withdrawn: VirtioFeatures

    init(_ inner: VirtioDevice, adding: VirtioFeatures = [], withdrawing: VirtioFeatures = []) {
        self.inner = inner
        added = adding
        withdrawn = withdrawing
    }

    var deviceType: VirtioDeviceType { inner.deviceType }
    var queueCount: Int { inner.queueCount }
    var maxQueueSize: UInt16 { inner.maxQueueSize }
    var deviceFeatures: VirtioFeatures { inner.deviceFeatures.subtracting(withdrawn).union(added) }
    var configSize: Int { inner.configSize }
    func readConfig(offset: Int, count: Int) -> [UInt8]? { inner.readConfig(offset: offset, count: count) }
    func writeConfig(offset: Int, bytes: [UInt8]) -> Bool { inner.writeConfig(offset: offset, bytes: bytes) }
    func acknowledge(features: VirtioFeatures) { inner.acknowledge(features: features.subtracting(added)) }
    func queueStarted(_ queue: DeviceQueue) { inner.queueStarted(queue) }
    func process(_ queue: DeviceQueue) { inner.process(queue) }
    func queueStopped(index: Int) { inner.queueStopped(index: index) }
    func reset() { inner.reset() }
    var eventDescriptors: [Int32] { inner.eventDescriptors }
    var eventGeneration: Int { inner.eventGeneration }
    func handleEvent(descriptor: Int32) { inner.handleEvent(descriptor: descriptor) }
}

/// virtio-rng that answers every request with the same byte: a bad entropy source.
final class ConstantEntropyDevice: VirtioDevice, @unchecked Sendable {
    let deviceType = VirtioDeviceType.entropy
    let queueCount = 1
    let deviceFeatures: VirtioFeatures = []

    func process(_ queue: DeviceQueue) {
        queue.drain { chain in
            var writer = chain.writer()
            let count = writer.remaining
            guard let slices = try? writer.slices(count) else { return 0 }
            for slice in slices { slice.fill(0x42) }
            return count
        }
    }
}

/// qemu-storage-daemon exporting a fresh 64 MiB image as vhost-user-blk, when installed.
final class StorageDaemon {
    static var path: String? {
        ["/usr/bin/qemu-storage-daemon", "/usr/local/bin/qemu-storage-daemon"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let directory: String
    let socketPath: String
    let imagePath: String
    let process: Process

    init(executable: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-qsd-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/blk.sock"
        imagePath = directory + "/disk.img"
        _ = FileManager.default.createFile(atPath: imagePath, contents: nil)
        try FileDescriptor.open(imagePath, flags: O_RDWR).truncate(to: 64 << 20)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = StorageDaemon.arguments(image: imagePath, socket: socketPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    /// The command line documented in /work/coord/probe-results.md and the README.
    static func arguments(image: String, socket: String) -> [String] {
        ["--blockdev", "driver=file,node-name=disk,filename=\(image)",
         "--export", "type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path=\(socket),writable=on"]
    }

    deinit {
        // SIGTERM first; the daemon may wait for its export's client, so SIGKILL after 2 s.
        if process.isRunning { process.terminate() }
        let deadline = MonotonicClock.seconds() + 2
        while process.isRunning, MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 20) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { MonotonicClock.sleep(milliseconds: 10) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
