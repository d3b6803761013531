import GuestMemory

/// A request from the driver: the descriptor chain starting at `head`, resolved
/// into guest-memory slices and split into its device-readable part followed by
/// its device-writable part (VIRTIO 1.2 §2.7.5). Walking enforces every chain rule
/// (see `ChainError`), so a device only ever sees a well-formed chain.
public struct DescriptorChain: Sendable {
    /// Index of the head descriptor: what goes back into the used ring.
    public let head: UInt16
    /// Device-readable buffers, in order.
    public let readable: [GuestSlice]
    /// Device-writable buffers, in order.
    public let writable: [GuestSlice]
    public let readableLength: Int
    public let writableLength: Int
    /// Descriptors walked, an indirect table's own descriptor included.
    public let descriptorCount: Int

    /// Walks the chain at `head` in the descriptor `table` (of `tableSize` entries).
    /// - Parameter indirectAllowed: VIRTIO_F_INDIRECT_DESC was negotiated.
    public static func walk(head: UInt16, table: GuestSlice, tableSize: Int, memory: GuestMemory,
                            indirectAllowed: Bool) throws(ChainError) -> DescriptorChain {
        var readable: [GuestSlice] = []
        var writable: [GuestSlice] = []
        readable.reserveCapacity(4)
        writable.reserveCapacity(4)
        var readableLength: UInt64 = 0
        var writableLength: UInt64 = 0
        var currentTable = table
        var currentSize = tableSize
        var index = head
        var walkedInTable = 0
        var total = 0
        var inIndirect = false
        var sawWritable = false

        while true {
            guard Int(index) < currentSize else { throw .indexOutOfRange(index: index, tableSize: currentSize) }
            walkedInTable += 1
            total += 1
            // A chain can visit each entry of its table at most once; more means a loop.
            guard walkedInTable <= currentSize else { throw .chainTooLong(limit: currentSize) }
            let descriptor = try read(currentTable, index)

            if descriptor.flags.contains(.indirect) {
                guard indirectAllowed else { throw .indirectNotNegotiated }
                guard !inIndirect else { throw .nestedIndirect }
                guard !descriptor.flags.contains(.next) else { throw .indirectWithNext }
                let length = descriptor.length
                guard length > 0, length % UInt32(Descriptor.size) == 0, length / UInt32(Descriptor.size) <= 65536 else {
                    throw .invalidIndirectLength(length)
                }
                do {
                    currentTable = try memory.slice(at: GuestAddress(descriptor.address), count: Int(length))
                } catch {
                    throw .bufferOutOfBounds(error)
                }
                currentSize = Int(length) / Descriptor.size
                index = 0
                walkedInTable = 0
                inIndirect = true
                continue
            }

            if descriptor.flags.contains(.write) {
                sawWritable = true
            } else if sawWritable {
                throw .readableAfterWritable
            }
            if descriptor.length > 0 {
                let isWritable = descriptor.flags.contains(.write)
                let address = GuestAddress(descriptor.address)
                // Nearly every buffer lies in one region: take it whole, without a temporary array.
                if descriptor.length <= UInt32(Int32.max), let slice = try? memory.slice(at: address, count: Int(descriptor.length)) {
                    if isWritable { writable.append(slice) } else { readable.append(slice) }
                } else {
                    let segments: [GuestSlice]
                    do {
                        segments = try memory.segments(at: address, length: UInt64(descriptor.length))
                    } catch {
                        throw .bufferOutOfBounds(error)
                    }
                    if isWritable { writable += segments } else { readable += segments }
                }
                if isWritable {
                    writableLength += UInt64(descriptor.length)
                } else {
                    readableLength += UInt64(descriptor.length)
                }
                guard readableLength <= UInt64(UInt32.max), writableLength <= UInt64(UInt32.max) else {
                    throw .totalLengthOverflow
                }
            }

            guard descriptor.flags.contains(.next) else { break }
            index = descriptor.next
        }
        return DescriptorChain(head: head, readable: readable, writable: writable,
                               readableLength: Int(readableLength), writableLength: Int(writableLength),
                               descriptorCount: total)
    }

    private static func read(_ table: GuestSlice, _ index: UInt16) throws(ChainError) -> Descriptor {
        let offset = Int(index) * Descriptor.size
        do {
            return Descriptor(address: try table.load(UInt64.self, at: offset),
                              length: try table.load(UInt32.self, at: offset + 8),
                              flags: Descriptor.Flags(rawValue: try table.load(UInt16.self, at: offset + 12)),
                              next: try table.load(UInt16.self, at: offset + 14))
        } catch {
            throw .bufferOutOfBounds(error)
        }
    }

    /// A reader over the device-readable part.
    public func reader() -> ChainReader { ChainReader(segments: readable) }

    /// A writer over the device-writable part.
    public func writer() -> ChainWriter { ChainWriter(segments: writable) }
}
