/// Why a guest memory access was refused. Every one of these is the guest's (or
/// the front end's) fault and must end the request, never the process.
public enum GuestMemoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `address + offset` wraps around 2^64.
    case addressOverflow(base: UInt64, offset: UInt64)
    /// No region holds `[address, address + length)` (or it straddles regions where one is required).
    case outOfBounds(address: GuestAddress, length: UInt64)
    /// No region maps this front-end virtual address range.
    case frontendAddressUnmapped(address: FrontendAddress, length: UInt64)
    /// An access inside a slice went past its end.
    case sliceOverrun(offset: Int, length: Int, sliceLength: Int)
    /// A region description that cannot be honoured (zero size, overflow, overlap, too many).
    case invalidRegion(String)
    /// mmap(2) of a region failed.
    case mapFailed(errno: Int32)

    public var description: String {
        switch self {
        case let .addressOverflow(base, offset):
            return "guest address 0x\(String(base, radix: 16)) + 0x\(String(offset, radix: 16)) overflows"
        case let .outOfBounds(address, length):
            return "guest range \(address) +\(length) is not inside one memory region"
        case let .frontendAddressUnmapped(address, length):
            return "front-end range \(address) +\(length) is not inside one memory region"
        case let .sliceOverrun(offset, length, sliceLength):
            return "access at \(offset) of \(length) bytes overruns a \(sliceLength)-byte slice"
        case let .invalidRegion(why):
            return "invalid memory region: \(why)"
        case let .mapFailed(errno):
            return "mmap failed (errno \(errno))"
        }
    }
}
