// libFuzzer target: AVP's touchscreen (virtio-input, VIRTIO 1.2 §5.8) from both sides.
//   - first byte even: the bytes after it are what a host process writes to the events socket
//     of `avp serve input`, cut at newlines; each line goes through TouchLine.parse (refuse or
//     decode, never trap) and what it decodes must read back the same from its description;
//     the touches drive a Touchscreen with no driver attached, whose frames must not be queued;
//   - first byte odd: the bytes lay out a guest's RAM with an eventq or statusq (FuzzGuest),
//     which the device serves after a few touches, then configuration reads and writes at
//     offsets and sizes the input chooses: out of range is refused, in range answers exactly.
// Build and run: fuzz/run input
import Devices
import Foundation
import GuestMemory
import Logging
import Virtio

private let screen = try! Touchscreen(width: 800, height: 480, logger: FuzzGuest.logger)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let device = screen.device
    if data[0] & 1 == 0 {
        let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
        let queued = device.statistics.framesQueued
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            guard let action = try? TouchLine.parse(Array(line)) else { continue }
            precondition((try? TouchLine.parse(Array(action.description.utf8))) == action, "\(action) does not read back")
            screen.apply(action)
        }
        precondition(device.statistics.framesQueued == queued, "no driver runs the eventq here")
        return 0
    }
    guard let ring = FuzzGuest.queue(data + 1, size - 1, features: [.version1, .ringIndirectDescriptors, .ringEventIndex]) else { return 0 }
    let index = Int(data[0] >> 1 & 1)
    let queue = DeviceQueue(index: index, ring: ring, notifier: NullNotifier(), logger: FuzzGuest.logger)
    device.queueStarted(queue)
    let before = device.statistics
    if index == 0 {
        screen.apply(.touch(contact: Int(data[0] >> 2 & 7), x: Int(data[0]), y: size))
        screen.apply(.release(contact: Int(data[0] >> 2 & 7)))
    }
    device.process(queue)
    let after = device.statistics
    precondition(after.eventsDelivered - before.eventsDelivered <= 16 && after.framesDropped == before.framesDropped)
    device.queueStopped(index: index)

    // Configuration space, at offsets and sizes from the input's last bytes.
    if size >= 4 {
        let offset = Int(data[size - 3]) - 8, count = Int(data[size - 2]), value = data[size - 1]
        _ = device.writeConfig(offset: offset & 1, bytes: [value])
        let read = device.readConfig(offset: offset, count: count)
        precondition((read == nil) == (offset < 0 || offset + count > device.configSize), "offset \(offset) count \(count)")
        precondition(read.map { $0.count == count } ?? true)
        let whole = device.readConfig(offset: 0, count: device.configSize)!
        precondition(Int(whole[2]) <= 128 && whole[(8 + Int(whole[2]))...].allSatisfy { $0 == 0 }, "size \(whole[2]) and the union agree")
    }
    return 0
}
