// libFuzzer target: virtio-gpu 2D requests from a guest that controls every byte.
//   - first byte even: the bytes after it are one request for GpuCommand.parse, the single
//     parser of the control and cursor queues (it must refuse or decode, never trap);
//   - first byte odd: the bytes lay out a guest's RAM with a control or cursor queue and its
//     requests (FuzzGuest), which one GPU device executes: resources, backings pointing anywhere,
//     transfers, flushes, scanouts. Resources persist across inputs, so sequences are reached;
//     the per-VM limits (256 MiB of images) must hold whatever the guest asks.
// Build and run: fuzz/run gpu
import Devices
import Foundation
import GuestMemory
import Logging
import Virtio

private let device: GpuDevice = {
    let d = GpuDevice(modes: [DisplayMode(width: 96, height: 64, widthMM: 100, heightMM: 66),
                              DisplayMode(width: 64, height: 64, widthMM: 50, heightMM: 50)], logger: FuzzGuest.logger)
    d.acknowledge(features: VirtioFeatures.transport.union(d.deviceFeatures))
    return d
}()
nonisolated(unsafe) private var inputs = 0   // libFuzzer calls the target on one thread

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    if data[0] & 1 == 0 {
        let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
        if let request = try? GpuCommand.parse(bytes), case let .attachBacking(_, entries) = request.command {
            precondition(entries.count <= GpuCommand.maxBackingEntries)
        }
        return 0
    }
    var features: VirtioFeatures = [.version1, .ringIndirectDescriptors]
    if data[0] & 2 != 0 { features.insert(.ringEventIndex) }
    guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features) else { return 0 }
    let queue = DeviceQueue(index: data[0] & 4 == 0 ? 0 : 1, ring: ring, notifier: NullNotifier(), logger: FuzzGuest.logger)
    device.process(queue)
    // Every frame stays within its scanout's mode.
    for (frame, mode) in zip(device.frames, device.modes) {
        let size = frame.size
        precondition(size.width <= 8192 && size.height <= 8192 && (size.width == 0) == (size.height == 0), "\(size) vs \(mode)")
    }
    // Start over now and then, as a rebooting guest does.
    inputs += 1
    if inputs % 64 == 0 { device.reset() }
    return 0
}
