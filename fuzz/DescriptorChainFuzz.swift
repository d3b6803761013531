// libFuzzer target: a guest that controls every byte of its RAM — descriptor table,
// available ring, buffers — against the device side of a split virtqueue and against
// the devices that parse what guests send: entropy, a switch port, vsock, console.
// Build and run: fuzz/run chain
import Devices
import Glibc
import GuestMemory
import Logging
import Virtio

private let logger = FuzzGuest.logger
private let entropy = EntropyDevice(logger: logger)
private let fabric = EthernetSwitch()
private let port = try! SwitchPort(policy: NetPortPolicy(name: "fuzz", mac: MACAddress("02:00:00:00:00:01")!, macChange: .deny, mtu: 1500),
                                   switch: fabric, logger: logger)
private let peer = try! SwitchPort(policy: NetPortPolicy(name: "peer", mac: MACAddress("02:00:00:00:00:02")!), switch: fabric, logger: logger)
private let router = VsockRouter(allowedPairs: [(3, 4)])
private let vsock = try! VsockDevice(cid: 3, hostSocketPath: "/tmp/avp-fuzz-vsock-\(getpid())", router: router, logger: logger)
private let console = try! ConsoleDevice(hostSocket: "/tmp/avp-fuzz-no-console", logger: logger)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    // First byte: feature choice and target; the rest is laid over RAM from its start.
    let flags = data[0]
    var features: VirtioFeatures = [.version1]
    if flags & 1 != 0 { features.insert(.ringIndirectDescriptors) }
    if flags & 2 != 0 { features.insert(.ringEventIndex) }
    guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features, nextAvailable: UInt16(flags >> 5)) else { return 0 }
    // Bits 2-4 of the first byte choose what reads the guest's requests.
    switch (flags >> 2) & 7 {
    case 1:
        entropy.process(DeviceQueue(index: 0, ring: ring, notifier: NullNotifier(), logger: logger))
    case 2:
        port.process(DeviceQueue(index: 1, ring: ring, notifier: NullNotifier(), logger: logger))
    case 3:
        vsock.process(DeviceQueue(index: 1, ring: ring, notifier: NullNotifier(), logger: logger))
    case 4:
        console.process(DeviceQueue(index: 3, ring: ring, notifier: NullNotifier(), logger: logger))
    case 5:
        console.process(DeviceQueue(index: 1, ring: ring, notifier: NullNotifier(), logger: logger))
    default:
        let queue = DeviceQueue(index: 0, ring: ring, notifier: NullNotifier(), logger: logger)
        // Read and write every byte the chain offers, as a device parsing a request would.
        queue.drain { chain in
            var reader = chain.reader()
            _ = try? reader.readBytes(min(reader.remaining, 4096))
            var writer = chain.writer()
            try? writer.write([UInt8](repeating: 0x5a, count: min(writer.remaining, 4096)))
            return writer.written
        }
    }
    _ = peer
    return 0
}
