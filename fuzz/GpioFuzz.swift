// libFuzzer target: virtio-gpio from a guest that controls every byte (VIRTIO 1.2 §5.17).
//   - first byte 0 mod 4: the bytes after it are one requestq request for GpioRequest.parse (must
//     decode or refuse, never trap; what decodes names a line below ngpio and a valid value);
//   - 1 mod 4: an eventq request for GpioIRQRequest.parse;
//   - 2 mod 4: a control-socket line for GpioControlServer.answer over the simulated block;
//   - 3 mod 4: the bytes lay out a guest's RAM with a requestq or eventq and its requests
//     (FuzzGuest), which one GPIO device executes; between inputs the host toggles a line, so
//     interrupts fire into held eventq buffers. The device persists across inputs (sequences of
//     SET_DIRECTION, SET_VALUE, SET_IRQ_TYPE and unmasks are reached) and is reset now and then.
// Build and run: fuzz/run gpio
import Devices
import Foundation
import GuestMemory
import Logging
import Virtio

private let lines = SimulatedGpioLines(names: ["a", "b", "c", "d"])
private let block = try! GpioBlock(provider: lines, logger: FuzzGuest.logger)
private let map = try! GpioLineMap(block: block, owned: ["a", "b"], readOnly: ["c"])
private let device: GpioDevice = {
    let d = try! GpioDevice(vm: "fuzz", map: map, block: block, logger: FuzzGuest.logger)
    d.acknowledge(features: VirtioFeatures.transport.union(d.deviceFeatures))
    return d
}()
private let control = try! GpioControlServer(path: NSTemporaryDirectory() + "/avp-gpio-fuzz-\(getpid()).sock", block: block,
                                             logger: FuzzGuest.logger)
nonisolated(unsafe) private var inputs = 0   // libFuzzer calls the target on one thread

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] & 3 {
    case 0:
        if let request = try? GpioRequest.parse(bytes, lineCount: 3, irq: data[0] & 4 != 0) {
            precondition(bytes.count == GpioRequest.size)
            switch request {
            case .getLineNames: break
            case let .getDirection(line), let .getValue(line), let .setValue(line, _), let .setDirection(line, _), let .setIRQType(line, _):
                precondition(line < 3)
            }
            if case .setIRQType = request { precondition(data[0] & 4 != 0) }
        }
    case 1:
        if let line = try? GpioIRQRequest.parse(bytes, writable: Int(data[0] >> 4), lineCount: 3) { precondition(line < 3) }
    case 2:
        _ = control.answer(bytes)
    default:
        var features: VirtioFeatures = [.version1, .ringIndirectDescriptors]
        if data[0] & 4 != 0 { features.insert(.ringEventIndex) }
        guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features) else { return 0 }
        let index = Int(data[0] >> 3) & 1
        let queue = DeviceQueue(index: index, ring: ring, notifier: NullNotifier(), logger: FuzzGuest.logger)
        device.queueStarted(queue)
        device.process(queue)
        try? block.setHostLevel(line: Int(data[0] >> 4) & 3, data[0] & 0x40 != 0)
        device.handleEvent(descriptor: device.eventDescriptors[0])
        precondition(block.status.allSatisfy { $0.drivenBy == nil || $0.drivenBy == "fuzz" })
        precondition(block.status[2].drivenBy == nil && block.status[3].drivenBy == nil, "read-only and unseen lines are never driven")
    }
    inputs += 1
    if inputs % 64 == 0 { device.reset() }
    return 0
}
