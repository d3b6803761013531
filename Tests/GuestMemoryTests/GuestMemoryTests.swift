import AVPTestSupport
import GuestMemory
import SystemCalls
import Testing

/// Two regions with a gap, then an adjacent third: [0x1000_0000, +1 MiB), [0x2000_0000, +1 MiB), [0x2010_0000, +1 MiB).
private func threeRegions() throws -> (GuestMemory, [SharedMemoryRegion]) {
    let a = try SharedMemoryRegion(guestAddress: GuestAddress(0x1000_0000), size: 1 << 20)
    let b = try SharedMemoryRegion(guestAddress: GuestAddress(0x2000_0000), size: 1 << 20)
    let c = try SharedMemoryRegion(guestAddress: GuestAddress(0x2010_0000), size: 1 << 20, frontendBias: 0x6000_0000_0000)
    return (try GuestMemory(regions: [c.region, a.region, b.region]), [a, b, c])
}

@Suite struct GuestMemoryTranslation {
    @Test func sliceInsideRegionReadsAndWritesLittleEndian() throws {
        let (memory, _) = try threeRegions()
        let s = try memory.slice(at: GuestAddress(0x1000_0010), count: 8)
        try s.store(UInt32(0x1122_3344), at: 0)
        #expect(try s.bytes(count: 4) == [0x44, 0x33, 0x22, 0x11])
        #expect(try memory.load(UInt32.self, at: GuestAddress(0x1000_0010)) == 0x1122_3344)
        try memory.store(UInt16(0xBEEF), at: GuestAddress(0x1000_0014))
        #expect(try s.load(UInt16.self, at: 4) == 0xBEEF)
    }

    @Test func lastByteOfRegionIsReachableAndOneMoreIsNot() throws {
        let (memory, _) = try threeRegions()
        _ = try memory.slice(at: GuestAddress(0x1000_0000 + (1 << 20) - 1), count: 1)
        #expect(throws: GuestMemoryError.self) { try memory.slice(at: GuestAddress(0x1000_0000 + (1 << 20) - 1), count: 2) }
        #expect(throws: GuestMemoryError.self) { try memory.slice(at: GuestAddress(0x1000_0000 + (1 << 20)), count: 1) }
        #expect(throws: GuestMemoryError.self) { try memory.slice(at: GuestAddress(0x0fff_ffff), count: 2) }
    }

    @Test func addressesNearTheTopOfTheSpaceDoNotWrap() throws {
        let (memory, _) = try threeRegions()
        #expect(throws: GuestMemoryError.self) { try memory.slice(at: GuestAddress(UInt64.max - 3), count: 8) }
        #expect(throws: GuestMemoryError.self) { try memory.segments(at: GuestAddress(UInt64.max), length: 2) }
        #expect(throws: GuestMemoryError.addressOverflow(base: UInt64.max, offset: 1)) { try GuestAddress(UInt64.max).adding(1) }
        #expect(throws: GuestMemoryError.self) { try memory.slice(at: GuestAddress(0x1000_0000), count: -1) }
    }

    @Test func segmentsCrossAdjacentRegionsButNotGaps() throws {
        let (memory, _) = try threeRegions()
        let parts = try memory.segments(at: GuestAddress(0x2010_0000 - 16), length: 32)
        #expect(parts.map(\.count) == [16, 16])
        #expect(parts[1].guestAddress == GuestAddress(0x2010_0000))
        #expect(throws: GuestMemoryError.self) { try memory.segments(at: GuestAddress(0x1010_0000 - 16), length: 32) }
        // A single slice never straddles regions, even adjacent ones.
        #expect(throws: GuestMemoryError.self) { try memory.slice(at: GuestAddress(0x2010_0000 - 16), count: 32) }
        #expect(try memory.segments(at: GuestAddress(0), length: 0).isEmpty)
    }

    @Test func frontendAddressesTranslatePerRegion() throws {
        let (memory, regions) = try threeRegions()
        let c = regions[2].descriptor
        #expect(try memory.guestAddress(of: FrontendAddress(c.frontendAddress.raw + 0x40), length: 16) == GuestAddress(0x2010_0040))
        #expect(throws: GuestMemoryError.self) { try memory.guestAddress(of: FrontendAddress(c.frontendAddress.raw + (1 << 20) - 8), length: 16) }
        #expect(throws: GuestMemoryError.self) { try memory.guestAddress(of: FrontendAddress(0x1000_0000), length: 1) }
    }

    @Test func overlappingRegionsAreRefused() throws {
        let a = try SharedMemoryRegion(guestAddress: GuestAddress(0x1000), size: 0x2000)
        let b = try SharedMemoryRegion(guestAddress: GuestAddress(0x2000), size: 0x2000)
        #expect(throws: GuestMemoryError.self) { try GuestMemory(regions: [a.region, b.region]) }
        let memory = try GuestMemory(regions: [a.region])
        #expect(throws: GuestMemoryError.self) { try memory.adding(b.region) }
    }

    @Test func invalidRegionDescriptionsAreRefusedBeforeMapping() throws {
        let file = try MemFD.create(name: "t", size: 4096)
        func region(_ gpa: UInt64, _ size: UInt64, _ uva: UInt64 = 0x1000, _ off: UInt64 = 0) -> MemoryRegionDescriptor {
            MemoryRegionDescriptor(guestAddress: GuestAddress(gpa), size: size, frontendAddress: FrontendAddress(uva), mmapOffset: off)
        }
        #expect(throws: GuestMemoryError.self) { try MappedRegion(descriptor: region(0, 0), file: file) }
        #expect(throws: GuestMemoryError.self) { try MappedRegion(descriptor: region(UInt64.max - 10, 4096), file: file) }
        #expect(throws: GuestMemoryError.self) { try MappedRegion(descriptor: region(0, 4096, UInt64.max - 10), file: file) }
        #expect(throws: GuestMemoryError.self) { try MappedRegion(descriptor: region(0, 4096, 0, UInt64.max - 10), file: file) }
        #expect(throws: GuestMemoryError.self) { try MappedRegion(descriptor: region(0, UInt64.max), file: file) }
        // Larger than the file: touching the tail would raise SIGBUS.
        #expect(throws: GuestMemoryError.self) { try MappedRegion(descriptor: region(0, 8192), file: file) }
        #expect(throws: GuestMemoryError.self) { try MappedRegion(descriptor: region(0, 4096, 0x1000, 4096), file: file) }
        _ = try MappedRegion(descriptor: region(0, 4096), file: file)
    }

    @Test func removingARegionLeavesTheOthers() throws {
        let (memory, regions) = try threeRegions()
        let smaller = try #require(memory.removing(regions[1].descriptor))
        #expect(smaller.regions.count == 2)
        #expect(throws: GuestMemoryError.self) { try smaller.slice(at: GuestAddress(0x2000_0000), count: 1) }
        _ = try smaller.slice(at: GuestAddress(0x2010_0000), count: 1)
        #expect(memory.removing(MemoryRegionDescriptor(guestAddress: GuestAddress(5), size: 1, frontendAddress: FrontendAddress(0), mmapOffset: 0)) == nil)
    }

    @Test func sliceAccessesStayInsideTheSlice() throws {
        let (memory, _) = try threeRegions()
        let s = try memory.slice(at: GuestAddress(0x1000_0000), count: 16)
        #expect(throws: GuestMemoryError.self) { try s.load(UInt64.self, at: 9) }
        #expect(throws: GuestMemoryError.self) { try s.load(UInt8.self, at: -1) }
        #expect(throws: GuestMemoryError.self) { try s.subslice(at: 8, count: 9) }
        #expect(throws: GuestMemoryError.self) { try s.write([UInt8](repeating: 1, count: 17)) }
        #expect(throws: GuestMemoryError.self) { try s.subslice(at: Int.max, count: 2) }
        let sub = try s.subslice(at: 8, count: 8)
        #expect(sub.guestAddress == GuestAddress(0x1000_0008))
    }

    @Test func mappingOutlivesTheMemoryThatPublishedIt() throws {
        var memory: GuestMemory? = try threeRegions().0
        let slice = try memory!.slice(at: GuestAddress(0x2000_0000), count: 4)
        memory = nil
        try slice.store(UInt32(7), at: 0)
        #expect(try slice.load(UInt32.self, at: 0) == 7)
    }
}
