// libFuzzer target: a guest controlling every byte of its RAM sends virtio-i2c requests —
// out headers (address, flags), buffers in either direction, status bytes, FAIL_NEXT groups of
// any length — to AVP's I2C device, which runs them on an in-memory 24C02 at 0x50 and an
// LM75-style sensor at 0x48 (VIRTIO 1.2 §5.16). The first input byte also feeds the request
// parser and the target syntax directly.
// Build and run: fuzz/run i2c
import Devices
import Foundation
import GuestMemory
import Logging
import Virtio

private let logger = FuzzGuest.logger
private let device: I2cDevice = {
    let targets = EmulatedI2cTargets([I2cAddress(0x50)!: try! Eeprom24C02(file: nil), I2cAddress(0x48)!: TemperatureSensor(celsius: 21.5)!])
    let d = I2cDevice(bus: I2cBus([I2cAddress(0x50)!: targets, I2cAddress(0x48)!: targets]), logger: logger)
    d.acknowledge(features: VirtioFeatures.transport.union(d.deviceFeatures))
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: min(size, 64)))
    // The pure parsers on the raw bytes.
    _ = try? I2cRequest(header: Array(bytes.prefix(8)), readableLength: Int(bytes[0]) * 37, writableLength: bytes.count * 129)
    _ = I2cRequest.failNext(header: bytes)
    _ = try? I2cTargetSpec(parsing: String(decoding: bytes.dropFirst(), as: UTF8.self))
    _ = try? I2cControlRequest(line: Array(bytes.dropFirst()))
    var features: VirtioFeatures = [.version1, .ringIndirectDescriptors]
    if data[0] & 1 != 0 { features.insert(.ringEventIndex) }
    guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features) else { return 0 }
    let queue = DeviceQueue(index: 0, ring: ring, notifier: NullNotifier(), logger: logger)
    device.process(queue)
    return 0
}
