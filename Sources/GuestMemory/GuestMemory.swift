import SystemCalls

/// The guest's RAM as this process sees it: an immutable set of mapped regions.
/// The one place that translates and bounds-checks guest addresses; everything
/// else (ring reads, payload copies) goes through `slice(at:count:)` or
/// `segments(at:length:)`. A memory-table change builds a new `GuestMemory`.
public final class GuestMemory: Sendable {
    /// vhost-user's limit for SET_MEM_TABLE is 8; CONFIGURE_MEM_SLOTS raises it to what we report.
    public static let maxRegions = 32

    /// Sorted by guest address; never overlapping.
    public let regions: [MappedRegion]

    public static let empty = GuestMemory(sorted: [])

    private init(sorted: [MappedRegion]) { regions = sorted }

    /// Builds guest memory from regions, refusing overlaps and more than `maxRegions`.
    public convenience init(regions: [MappedRegion]) throws(GuestMemoryError) {
        guard regions.count <= GuestMemory.maxRegions else {
            throw .invalidRegion("\(regions.count) regions, at most \(GuestMemory.maxRegions)")
        }
        let sorted = regions.sorted { $0.guestAddress < $1.guestAddress }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.descriptor.overlapsGuest(b.descriptor) {
            throw .invalidRegion("\(b.guestAddress) overlaps the region at \(a.guestAddress)")
        }
        // Ring addresses are translated through the front-end ranges: two regions claiming the same
        // front-end address would make that translation ambiguous.
        let byFrontend = regions.sorted { $0.descriptor.frontendAddress < $1.descriptor.frontendAddress }
        for (a, b) in zip(byFrontend, byFrontend.dropFirst()) where a.descriptor.overlapsFrontend(b.descriptor) {
            throw .invalidRegion("front-end range \(b.descriptor.frontendAddress) overlaps the region at \(a.descriptor.frontendAddress)")
        }
        self.init(sorted: sorted)
    }

    /// A new memory with `region` added (VHOST_USER_ADD_MEM_REG).
    public func adding(_ region: MappedRegion) throws(GuestMemoryError) -> GuestMemory {
        try GuestMemory(regions: regions + [region])
    }

    /// A new memory without the region that matches `descriptor`'s guest address and size
    /// (VHOST_USER_REM_MEM_REG), or nil if there is none.
    public func removing(_ descriptor: MemoryRegionDescriptor) -> GuestMemory? {
        guard let i = regions.firstIndex(where: {
            $0.guestAddress == descriptor.guestAddress && $0.size == descriptor.size
        }) else { return nil }
        var rest = regions
        rest.remove(at: i)
        return GuestMemory(sorted: rest)
    }

    /// The first region a SIGBUS hit (see `MappedRegion.hasFaulted`), if any.
    public var faultedRegion: MappedRegion? { regions.first { $0.hasFaulted } }

    /// Total bytes of guest RAM.
    public var size: UInt64 { regions.reduce(0) { $0 + $1.size } }

    /// A window of `count` bytes at `address`, which must lie inside one region.
    public func slice(at address: GuestAddress, count: Int) throws(GuestMemoryError) -> GuestSlice {
        guard count >= 0 else { throw .outOfBounds(address: address, length: 0) }
        let length = UInt64(count)
        for region in regions where region.descriptor.containsGuest(address, length: length) {
            let offset = Int(address.raw - region.guestAddress.raw)
            return GuestSlice(region: region, start: region.base + offset, count: count, guestAddress: address)
        }
        throw .outOfBounds(address: address, length: length)
    }

    /// `[address, address + length)` as one or more slices, for buffers that may cross
    /// from one region into an adjacent one (guest-physically contiguous).
    public func segments(at address: GuestAddress, length: UInt64) throws(GuestMemoryError) -> [GuestSlice] {
        if length == 0 { return [] }
        _ = try address.adding(length - 1)
        var result: [GuestSlice] = []
        var cursor = address
        var remaining = length
        while remaining > 0 {
            guard let region = regions.first(where: { $0.descriptor.containsGuest(cursor, length: 1) }) else {
                throw .outOfBounds(address: address, length: length)
            }
            let offset = cursor.raw - region.guestAddress.raw
            let take = min(remaining, region.size - offset)
            guard take <= UInt64(Int.max) else { throw .outOfBounds(address: address, length: length) }
            result.append(GuestSlice(region: region, start: region.base + Int(offset), count: Int(take), guestAddress: cursor))
            remaining -= take
            if remaining > 0 { cursor = GuestAddress(cursor.raw + take) }
        }
        return result
    }

    /// The guest address of a front-end virtual address range (vring addresses), which must lie in one region.
    public func guestAddress(of address: FrontendAddress, length: UInt64) throws(GuestMemoryError) -> GuestAddress {
        for region in regions where region.descriptor.containsFrontend(address, length: length) {
            return GuestAddress(region.guestAddress.raw + (address.raw - region.descriptor.frontendAddress.raw))
        }
        throw .frontendAddressUnmapped(address: address, length: length)
    }

    /// Reads a little-endian integer at `address`.
    public func load<T: FixedWidthInteger>(_ type: T.Type = T.self, at address: GuestAddress) throws(GuestMemoryError) -> T {
        try slice(at: address, count: MemoryLayout<T>.size).load(T.self, at: 0)
    }

    /// Writes a little-endian integer at `address`.
    public func store<T: FixedWidthInteger>(_ value: T, at address: GuestAddress) throws(GuestMemoryError) {
        try slice(at: address, count: MemoryLayout<T>.size).store(value, at: 0)
    }
}
