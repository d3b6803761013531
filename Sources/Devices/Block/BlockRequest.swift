import GuestMemory
import Virtio

/// Request types (VIRTIO 1.2 §5.2.6).
public enum BlockRequestType: UInt32, Sendable {
    case read = 0
    case write = 1
    case flush = 4
    case getID = 8
    case getLifetime = 10
    case discard = 11
    case writeZeroes = 13
    case secureErase = 14
}

/// The status byte the device writes last (VIRTIO 1.2 §5.2.6).
public enum BlockStatus: UInt8, Sendable {
    case ok = 0
    case ioError = 1
    case unsupported = 2
}

/// One range of a discard or write-zeroes request (`struct virtio_blk_discard_write_zeroes`).
public struct BlockRange: Equatable, Sendable {
    public static let size = 16
    public var sector: UInt64
    public var sectorCount: UInt32
    /// Write zeroes only: the device may deallocate.
    public var unmap: Bool
}

/// A well-formed request, ready to execute.
public enum BlockRequest: Sendable {
    case read(offset: UInt64, buffers: [GuestSlice], length: Int)
    case write(offset: UInt64, buffers: [GuestSlice], length: Int)
    case flush
    case getID(buffers: [GuestSlice])
    case discard([BlockRange])
    case writeZeroes([BlockRange])
}

/// What the device advertised and must therefore enforce.
public struct BlockLimits: Sendable {
    public var capacitySectors: UInt64
    public var readOnly: Bool
    /// Largest read or write accepted (bytes).
    public var maxTransferBytes: Int
    public var maxDiscardSectors: UInt32
    public var maxDiscardSegments: UInt32
    /// Discards must start and end on this many sectors.
    public var discardAlignmentSectors: UInt32
    public var maxWriteZeroesSectors: UInt32
    public var maxWriteZeroesSegments: UInt32
    public var discardEnabled: Bool
    public var writeZeroesEnabled: Bool
}

/// Parsing of a descriptor chain into a `BlockRequest`: a pure function, unit-tested
/// and fuzzed. Every refusal carries the status to report and why.
public enum BlockRequestParser {
    public static let sectorSize = 512
    public static let headerSize = 16

    /// A request with its status byte, or a refusal.
    public enum Outcome: Sendable {
        case request(BlockRequest, status: GuestSlice)
        /// Answer with `status`; `reason` is for the log.
        case refuse(BlockStatus, reason: String, status: GuestSlice)
        /// Not even a status byte to answer with: return the chain with nothing written.
        case malformed(String)
    }

    public static func parse(_ chain: DescriptorChain, limits: BlockLimits) -> Outcome {
        // VIRTIO 1.2 §5.2.6: header (readable), data, status (last writable byte).
        guard chain.writableLength >= 1 else { return .malformed("no device-writable status byte") }
        var writer = chain.writer()
        let dataWritable = chain.writableLength - 1
        guard let writableData = try? writer.slices(dataWritable), let status = try? writer.slices(1).first else {
            return .malformed("cannot locate the status byte")
        }
        var reader = chain.reader()
        guard chain.readableLength >= headerSize, let type = try? reader.read(UInt32.self),
              let _ = try? reader.read(UInt32.self), let sector = try? reader.read(UInt64.self) else {
            return .refuse(.ioError, reason: "request header shorter than 16 bytes", status: status)
        }
        let readableData = chain.readableLength - headerSize
        guard let kind = BlockRequestType(rawValue: type) else {
            return .refuse(.unsupported, reason: "request type \(type)", status: status)
        }

        func range(_ length: Int) -> String? {
            guard length % sectorSize == 0 else { return "length \(length) is not a multiple of 512" }
            guard length <= limits.maxTransferBytes else { return "\(length) bytes exceed the \(limits.maxTransferBytes)-byte limit" }
            let sectors = UInt64(length / sectorSize)
            guard sector <= limits.capacitySectors, sectors <= limits.capacitySectors - sector else {
                return "sectors \(sector)+\(sectors) beyond capacity \(limits.capacitySectors)"
            }
            return nil
        }

        switch kind {
        case .read:
            guard readableData == 0 else { return .refuse(.ioError, reason: "read with \(readableData) device-readable data bytes", status: status) }
            if let problem = range(dataWritable) { return .refuse(.ioError, reason: "read: \(problem)", status: status) }
            return .request(.read(offset: sector * UInt64(sectorSize), buffers: writableData, length: dataWritable), status: status)
        case .write:
            if limits.readOnly { return .refuse(.ioError, reason: "write to a read-only device", status: status) }
            guard dataWritable == 0 else { return .refuse(.ioError, reason: "write with \(dataWritable) device-writable data bytes", status: status) }
            if let problem = range(readableData) { return .refuse(.ioError, reason: "write: \(problem)", status: status) }
            guard let data = try? reader.slices(readableData) else { return .malformed("write data unreadable") }
            return .request(.write(offset: sector * UInt64(sectorSize), buffers: data, length: readableData), status: status)
        case .flush:
            return .request(.flush, status: status)
        case .getID:
            return .request(.getID(buffers: writableData), status: status)
        case .discard, .writeZeroes:
            let isDiscard = kind == .discard
            guard isDiscard ? limits.discardEnabled : limits.writeZeroesEnabled else {
                return .refuse(.unsupported, reason: "\(kind) not negotiated", status: status)
            }
            if limits.readOnly { return .refuse(.ioError, reason: "\(kind) on a read-only device", status: status) }
            guard readableData > 0, readableData % BlockRange.size == 0 else {
                return .refuse(.ioError, reason: "\(kind) payload of \(readableData) bytes", status: status)
            }
            let count = readableData / BlockRange.size
            let maxSegments = Int(isDiscard ? limits.maxDiscardSegments : limits.maxWriteZeroesSegments)
            guard count <= maxSegments else { return .refuse(.ioError, reason: "\(kind) with \(count) segments (max \(maxSegments))", status: status) }
            var ranges: [BlockRange] = []
            for _ in 0..<count {
                guard let start = try? reader.read(UInt64.self), let sectors = try? reader.read(UInt32.self),
                      let flags = try? reader.read(UInt32.self) else { return .malformed("\(kind) segment unreadable") }
                // §5.2.6.2: unknown flags, or unmap on a discard, are unsupported.
                guard flags & ~1 == 0, !(isDiscard && flags & 1 != 0) else {
                    return .refuse(.unsupported, reason: "\(kind) flags 0x\(String(flags, radix: 16))", status: status)
                }
                let maxSectors = isDiscard ? limits.maxDiscardSectors : limits.maxWriteZeroesSectors
                guard sectors <= maxSectors else { return .refuse(.ioError, reason: "\(kind) of \(sectors) sectors (max \(maxSectors))", status: status) }
                guard start <= limits.capacitySectors, UInt64(sectors) <= limits.capacitySectors - start else {
                    return .refuse(.ioError, reason: "\(kind) sectors \(start)+\(sectors) beyond capacity", status: status)
                }
                if isDiscard {
                    let a = UInt64(limits.discardAlignmentSectors)
                    let end = start + UInt64(sectors)
                    guard start % a == 0, end % a == 0 || end == limits.capacitySectors else {
                        return .refuse(.ioError, reason: "discard \(start)+\(sectors) not aligned to \(a) sectors", status: status)
                    }
                }
                ranges.append(BlockRange(sector: start, sectorCount: sectors, unmap: flags & 1 != 0))
            }
            return .request(isDiscard ? .discard(ranges) : .writeZeroes(ranges), status: status)
        case .getLifetime, .secureErase:
            return .refuse(.unsupported, reason: "\(kind) is not offered", status: status)
        }
    }
}
