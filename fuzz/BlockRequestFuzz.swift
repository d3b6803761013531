// libFuzzer target: a guest controlling every byte of its RAM sends virtio-blk
// requests — headers, data segments, discard/write-zeroes ranges, status bytes —
// to AVP's block device, which executes them (io_uring) on a scratch 1 MiB image.
// Build and run: fuzz/run block
import Devices
import Foundation
import GuestMemory
import Logging
import Virtio

private let logger = FuzzGuest.logger
private let imagePath: String = {
    let path = NSTemporaryDirectory() + "avp-fuzz-block-\(getpid()).img"
    _ = FileManager.default.createFile(atPath: path, contents: Data(count: 1 << 20))
    return path
}()
private let device: BlockDevice = {
    var options = BlockDeviceOptions(imagePath: imagePath)
    options.serial = "FUZZ"
    let d = try! BlockDevice(options: options, logger: logger)
    unlink(imagePath)  // the device keeps its descriptor; nothing is left behind
    d.acknowledge(features: VirtioFeatures.transport.union(d.deviceFeatures))
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var features: VirtioFeatures = [.version1, .ringIndirectDescriptors]
    if data[0] & 1 != 0 { features.insert(.ringEventIndex) }
    // Switch the write cache now and then, as a driver may.
    _ = device.writeConfig(offset: BlockConfiguration.writebackOffset, bytes: [data[0] >> 1 & 1])
    guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features) else { return 0 }
    let queue = DeviceQueue(index: 0, ring: ring, notifier: NullNotifier(), logger: logger)
    device.process(queue)
    // Requests still in flight finish before the guest memory is reused.
    device.queueStopped(index: 0)
    return 0
}
