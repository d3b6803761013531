import GuestMemory

/// A descriptor chain that breaks a rule of VIRTIO 1.2 §2.7.5. Each case names the
/// rule; the request ends with an error and the queue keeps going.
public enum ChainError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A `next` index (or the head) is not inside the descriptor table.
    case indexOutOfRange(index: UInt16, tableSize: Int)
    /// More descriptors than the table holds: the chain loops (§2.7.5.3.1 limits its length).
    case chainTooLong(limit: Int)
    /// INDIRECT used without VIRTIO_F_INDIRECT_DESC negotiated (§2.7.5.3.1).
    case indirectNotNegotiated
    /// An indirect table referring to another indirect table (§2.7.5.3.1: only one table per descriptor).
    case nestedIndirect
    /// INDIRECT and NEXT set together (§2.7.5.3.1).
    case indirectWithNext
    /// An indirect table whose length is zero, not a multiple of 16, or over 65536 entries.
    case invalidIndirectLength(UInt32)
    /// A device-readable descriptor after a device-writable one (§2.7.4.2).
    case readableAfterWritable
    /// A buffer that is not in guest memory.
    case bufferOutOfBounds(GuestMemoryError)
    /// The readable or writable part adds up to more than 2^32 - 1 bytes.
    case totalLengthOverflow

    public var description: String {
        switch self {
        case let .indexOutOfRange(index, size): return "descriptor index \(index) outside a table of \(size)"
        case let .chainTooLong(limit): return "descriptor chain longer than \(limit) (loop?)"
        case .indirectNotNegotiated: return "INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC"
        case .nestedIndirect: return "indirect descriptor inside an indirect table"
        case .indirectWithNext: return "descriptor with both INDIRECT and NEXT"
        case let .invalidIndirectLength(len): return "indirect table of \(len) bytes"
        case .readableAfterWritable: return "device-readable descriptor after a device-writable one"
        case let .bufferOutOfBounds(e): return "buffer outside guest memory: \(e)"
        case .totalLengthOverflow: return "chain longer than 4 GiB"
        }
    }
}
