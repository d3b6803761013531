import GuestMemory

/// A fault that stops a whole virtqueue (not just one request): the ring itself is
/// unusable until the driver resets the device (VIRTIO 1.2 §2.1.2, DEVICE_NEEDS_RESET).
public enum QueueError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Queue size zero, over 32768, or not a power of two (§2.7).
    case invalidSize(UInt32)
    /// A ring part not aligned as §2.7 requires (descriptors 16, available 2, used 4).
    case misaligned(part: String, address: GuestAddress)
    /// A ring part not inside guest memory.
    case ringUnmapped(part: String, GuestMemoryError)
    /// The available index moved further ahead than the queue has entries.
    case availableIndexJump(available: UInt16, nextAvailable: UInt16, size: UInt16)
    /// The available ring names a head outside the descriptor table; it cannot be returned.
    case headOutOfRange(head: UInt16, size: UInt16)
    /// The available ring names a head the device holds (taken and not yet returned).
    case headInUse(head: UInt16, availableIndex: UInt16)
    /// The guest memory behind the queue faulted (the front end shrank the file it shared).
    case memoryFault(GuestAddress)
    /// The inflight-tracking region the front end handed back (VHOST_USER_SET_INFLIGHT_FD) cannot
    /// describe this queue: unknown version, too few entries, or a last batch that does not add up.
    case inflightRegion(String)
    /// The queue was stopped after an earlier fault.
    case broken

    public var description: String {
        switch self {
        case let .invalidSize(n): return "queue size \(n) is not a power of two in 1...32768"
        case let .misaligned(part, address): return "\(part) at \(address) is misaligned"
        case let .ringUnmapped(part, e): return "\(part) is not in guest memory: \(e)"
        case let .availableIndexJump(avail, next, size):
            return "available index \(avail) is more than \(size) ahead of \(next)"
        case let .headOutOfRange(head, size): return "available ring names head \(head) in a queue of \(size)"
        case let .headInUse(head, index): return "available ring entry \(index) names head \(head), which the device still holds"
        case let .memoryFault(address): return "guest memory region at \(address) is gone (the front end shrank the file behind it)"
        case let .inflightRegion(why): return "inflight region: \(why)"
        case .broken: return "queue stopped after an earlier error"
        }
    }
}
