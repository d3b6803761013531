/// One guest RAM region as a vhost-user front end describes it
/// (`VhostUserMemoryRegion` in QEMU's docs/interop/vhost-user.rst): where it sits in
/// guest-physical space, where the front end mapped it, and where it starts in the
/// file descriptor sent alongside.
public struct MemoryRegionDescriptor: Equatable, Sendable {
    public var guestAddress: GuestAddress
    public var size: UInt64
    public var frontendAddress: FrontendAddress
    public var mmapOffset: UInt64

    public init(guestAddress: GuestAddress, size: UInt64, frontendAddress: FrontendAddress, mmapOffset: UInt64) {
        self.guestAddress = guestAddress
        self.size = size
        self.frontendAddress = frontendAddress
        self.mmapOffset = mmapOffset
    }

    /// Checks the arithmetic a mapping relies on: non-zero size, no wrap-around in any address space.
    public func validate() throws(GuestMemoryError) {
        guard size > 0 else { throw .invalidRegion("zero size") }
        guard size <= UInt64(Int.max) else { throw .invalidRegion("size 0x\(String(size, radix: 16)) too large") }
        if guestAddress.raw.addingReportingOverflow(size - 1).overflow { throw .invalidRegion("guest range wraps") }
        if frontendAddress.raw.addingReportingOverflow(size - 1).overflow { throw .invalidRegion("front-end range wraps") }
        let (end, o) = mmapOffset.addingReportingOverflow(size)
        if o || end > UInt64(Int.max) { throw .invalidRegion("mmap offset + size overflows") }
    }

    /// True if `[address, address + length)` lies inside this region's guest range.
    func containsGuest(_ address: GuestAddress, length: UInt64) -> Bool {
        guard address.raw >= guestAddress.raw else { return false }
        let offset = address.raw - guestAddress.raw
        return offset <= size && length <= size - offset
    }

    func containsFrontend(_ address: FrontendAddress, length: UInt64) -> Bool {
        guard address.raw >= frontendAddress.raw else { return false }
        let offset = address.raw - frontendAddress.raw
        return offset <= size && length <= size - offset
    }

    func overlapsGuest(_ other: MemoryRegionDescriptor) -> Bool {
        guestAddress.raw <= other.guestAddress.raw + (other.size - 1) && other.guestAddress.raw <= guestAddress.raw + (size - 1)
    }

    func overlapsFrontend(_ other: MemoryRegionDescriptor) -> Bool {
        frontendAddress.raw <= other.frontendAddress.raw + (other.size - 1)
            && other.frontendAddress.raw <= frontendAddress.raw + (size - 1)
    }
}
