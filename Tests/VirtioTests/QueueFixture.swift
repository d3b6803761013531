import AVPTestSupport
import GuestMemory
import Logging
import Virtio

/// A driver ring and the device's view of it in the same memory, no transport.
final class QueueFixture {
    let ram: SharedMemoryRegion
    let memory: GuestMemory
    var allocator: GuestAllocator
    let driver: DriverRing
    let device: SplitQueue

    init(size: UInt16 = 8, features: VirtioFeatures = .transport, ramSize: UInt64 = 1 << 20,
         base: GuestAddress = GuestAddress(0x1000_0000)) throws {
        ram = try SharedMemoryRegion(guestAddress: base, size: ramSize)
        memory = try GuestMemory(regions: [ram.region])
        allocator = GuestAllocator(base: base, size: ramSize)
        driver = try DriverRing(size: size, memory: memory, allocator: &allocator)
        device = try SplitQueue(size: UInt32(size), addresses: driver.addresses, memory: memory, features: features)
    }

    func buffer(_ count: Int, alignment: Int = 16) throws -> GuestSlice {
        try memory.slice(at: try allocator.allocate(count, alignment: alignment), count: count)
    }

    /// Publishes a hand-written chain: descriptors at indices 0, 1, ... in order.
    func publish(_ descriptors: [Descriptor], head: UInt16 = 0) throws {
        for (i, d) in descriptors.enumerated() { try driver.writeDescriptor(UInt16(i), d) }
        try driver.publish(head: head)
    }

    /// Takes the next head and walks it.
    func next() throws -> DescriptorChain {
        let head = try #require(try device.popHead())
        return try device.chain(at: head)
    }
}

/// Records interrupts and error signals instead of writing eventfds.
final class RecordingNotifier: QueueNotifier, @unchecked Sendable {
    var interrupts = 0
    var errors = 0
    func signalUsed() { interrupts += 1 }
    func signalError() { errors += 1 }
}

import Testing
