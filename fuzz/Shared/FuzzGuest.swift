// Shared by the ring-based fuzz targets: a guest whose 64 KiB of RAM are the fuzzer's input.
import AVPTestSupport
import GuestMemory
import Logging
import Virtio

final class NullNotifier: QueueNotifier, @unchecked Sendable {
    func signalUsed() {}
    func signalError() {}
}

/// 64 KiB of guest RAM at 0x10000: the available ring first (so the first input bytes are its
/// index and heads), the descriptor table at 0x10040, the used ring at 0x10200, then buffers.
enum FuzzGuest {
    static let ram = try! SharedMemoryRegion(guestAddress: GuestAddress(0x10000), size: 0x10000)
    static let memory = try! GuestMemory(regions: [ram.region])
    static let addresses = RingAddresses(descriptorTable: GuestAddress(0x10040), availableRing: GuestAddress(0x10000),
                                         usedRing: GuestAddress(0x10200))
    static let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

    /// Lays `count` input bytes over the RAM (the rest zero) and builds a 16-entry queue on it.
    static func queue(_ bytes: UnsafePointer<UInt8>, _ count: Int, features: VirtioFeatures,
                      nextAvailable: UInt16 = 0) -> SplitQueue? {
        let all = try! memory.slice(at: GuestAddress(0x10000), count: 0x10000)
        all.fill(0)
        try? all.write(UnsafeRawBufferPointer(start: bytes, count: min(count, 0x10000)), at: 0)
        return try? SplitQueue(size: 16, addresses: addresses, memory: memory, features: features, nextAvailable: nextAvailable)
    }
}
