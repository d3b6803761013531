import AVPTestSupport
import GuestMemory
import Testing
import Virtio

@Suite struct WellFormedChains {
    @Test func readableThenWritableAcrossDescriptors() throws {
        let f = try QueueFixture()
        let a = try f.buffer(10), b = try f.buffer(6), c = try f.buffer(32)
        try a.write(Array(0..<10))
        try b.write(Array(10..<16))
        try f.driver.add(readable: [a, b], writable: [c])
        let chain = try f.next()
        #expect(chain.readableLength == 16 && chain.writableLength == 32 && chain.descriptorCount == 3)
        var reader = chain.reader()
        #expect(try reader.read(UInt64.self) == 0x0706_0504_0302_0100)
        #expect(try reader.readBytes(8) == Array(8..<16))
        #expect(reader.remaining == 0)
        #expect(throws: GuestMemoryError.self) { try reader.read(UInt8.self) }
        var writer = chain.writer()
        try writer.write(UInt32(0xAABB_CCDD))
        #expect(writer.written == 4)
        #expect(try c.bytes(count: 4) == [0xDD, 0xCC, 0xBB, 0xAA])
        #expect(throws: GuestMemoryError.self) { try writer.write([UInt8](repeating: 0, count: 29)) }
    }

    @Test func indirectTableIsFollowedWhenNegotiated() throws {
        let f = try QueueFixture()
        let table = try f.buffer(3 * 16)
        let data = try f.buffer(64)
        // Write the indirect table by hand: readable 16, writable 16, writable 32.
        func put(_ i: Int, _ d: Descriptor) throws {
            try table.store(d.address, at: i * 16); try table.store(d.length, at: i * 16 + 8)
            try table.store(d.flags.rawValue, at: i * 16 + 12); try table.store(d.next, at: i * 16 + 14)
        }
        let base = data.guestAddress.raw
        try put(0, Descriptor(address: base, length: 16, flags: .next, next: 1))
        try put(1, Descriptor(address: base + 16, length: 16, flags: [.next, .write], next: 2))
        try put(2, Descriptor(address: base + 32, length: 32, flags: .write))
        try f.publish([Descriptor(address: table.guestAddress.raw, length: 48, flags: .indirect)])
        let chain = try f.next()
        #expect(chain.readableLength == 16 && chain.writableLength == 48 && chain.descriptorCount == 4)
    }

    @Test func bufferCrossingAdjacentRegionsBecomesTwoSegments() throws {
        let f = try QueueFixture(ramSize: 1 << 20)
        let next = try SharedMemoryRegion(guestAddress: GuestAddress(0x1000_0000 + (1 << 20)), size: 1 << 20)
        let memory = try f.memory.adding(next.region)
        try f.device.rebind(addresses: f.device.addresses, memory: memory)
        try f.publish([Descriptor(address: 0x1000_0000 + (1 << 20) - 8, length: 16, flags: .write)])
        let chain = try f.next()
        #expect(chain.writable.map(\.count) == [8, 8])
        var w = chain.writer()
        try w.write([UInt8](repeating: 0xAB, count: 16))
        #expect(try memory.slice(at: GuestAddress(0x1000_0000 + (1 << 20)), count: 8).bytes(count: 8) == [UInt8](repeating: 0xAB, count: 8))
    }

    @Test func zeroLengthDescriptorsAreSkipped() throws {
        let f = try QueueFixture()
        let a = try f.buffer(8)
        try f.publish([Descriptor(address: 0, length: 0, flags: .next, next: 1),
                       Descriptor(address: a.guestAddress.raw, length: 8, flags: .write)])
        let chain = try f.next()
        #expect(chain.writableLength == 8 && chain.readable.isEmpty)
    }
}

/// Each broken rule of VIRTIO 1.2 §2.7.5 gives its own ChainError.
@Suite struct MalformedChains {
    func expectChain(_ error: ChainError, features: VirtioFeatures = .transport, ramSize: UInt64 = 1 << 20,
                     _ build: (QueueFixture) throws -> [Descriptor]) throws {
        let f = try QueueFixture(features: features, ramSize: ramSize)
        try f.publish(try build(f))
        let head = try #require(try f.device.popHead())
        #expect(throws: error) { try f.device.chain(at: head) }
    }

    @Test func nextIndexOutsideTheTable() throws {
        try expectChain(.indexOutOfRange(index: 8, tableSize: 8)) { f in
            [Descriptor(address: try f.buffer(8).guestAddress.raw, length: 8, flags: .next, next: 8)]
        }
    }

    @Test func loopingChain() throws {
        try expectChain(.chainTooLong(limit: 8)) { f in
            let b = try f.buffer(8).guestAddress.raw
            return [Descriptor(address: b, length: 8, flags: .next, next: 1), Descriptor(address: b, length: 8, flags: .next, next: 0)]
        }
    }

    @Test func selfReferencingDescriptor() throws {
        try expectChain(.chainTooLong(limit: 8)) { f in
            [Descriptor(address: try f.buffer(8).guestAddress.raw, length: 8, flags: .next, next: 0)]
        }
    }

    @Test func bufferOutsideGuestMemory() throws {
        try expectChain(.bufferOutOfBounds(.outOfBounds(address: GuestAddress(0x10), length: 8))) { _ in
            [Descriptor(address: 0x10, length: 8, flags: .write)]
        }
    }

    @Test func bufferRunningOffTheEndOfMemory() throws {
        try expectChain(.bufferOutOfBounds(.outOfBounds(address: GuestAddress(0x1000_0000 + (1 << 20) - 4), length: 8))) { _ in
            [Descriptor(address: 0x1000_0000 + (1 << 20) - 4, length: 8, flags: .write)]
        }
    }

    @Test func bufferAddressWrapsAround() throws {
        try expectChain(.bufferOutOfBounds(.addressOverflow(base: UInt64.max - 3, offset: 7))) { _ in
            [Descriptor(address: UInt64.max - 3, length: 8)]
        }
    }

    @Test func readableAfterWritable() throws {
        try expectChain(.readableAfterWritable) { f in
            let b = try f.buffer(16).guestAddress.raw
            return [Descriptor(address: b, length: 8, flags: [.write, .next], next: 1), Descriptor(address: b + 8, length: 8)]
        }
    }

    @Test func zeroLengthWritableThenReadable() throws {
        try expectChain(.readableAfterWritable) { f in
            let b = try f.buffer(16).guestAddress.raw
            return [Descriptor(address: b, length: 0, flags: [.write, .next], next: 1), Descriptor(address: b + 8, length: 8)]
        }
    }

    @Test func indirectWithoutTheFeature() throws {
        try expectChain(.indirectNotNegotiated, features: [.version1]) { f in
            [Descriptor(address: try f.buffer(16).guestAddress.raw, length: 16, flags: .indirect)]
        }
    }

    @Test func indirectTogetherWithNext() throws {
        try expectChain(.indirectWithNext) { f in
            [Descriptor(address: try f.buffer(16).guestAddress.raw, length: 16, flags: [.indirect, .next], next: 1)]
        }
    }

    @Test func indirectTableOfBadLength() throws {
        try expectChain(.invalidIndirectLength(24)) { f in
            [Descriptor(address: try f.buffer(32).guestAddress.raw, length: 24, flags: .indirect)]
        }
        try expectChain(.invalidIndirectLength(0)) { f in
            [Descriptor(address: try f.buffer(32).guestAddress.raw, length: 0, flags: .indirect)]
        }
    }

    @Test func indirectTableOutsideMemory() throws {
        try expectChain(.bufferOutOfBounds(.outOfBounds(address: GuestAddress(0x1000), length: 32))) { _ in
            [Descriptor(address: 0x1000, length: 32, flags: .indirect)]
        }
    }

    @Test func nestedIndirectTable() throws {
        try expectChain(.nestedIndirect) { f in
            let table = try f.buffer(16)
            try table.store(table.guestAddress.raw, at: 0)
            try table.store(UInt32(16), at: 8)
            try table.store(Descriptor.Flags.indirect.rawValue, at: 12)
            return [Descriptor(address: table.guestAddress.raw, length: 16, flags: .indirect)]
        }
    }

    @Test func loopInsideAnIndirectTable() throws {
        try expectChain(.chainTooLong(limit: 2)) { f in
            let table = try f.buffer(32)
            let data = try f.buffer(8).guestAddress.raw
            for i in 0..<2 {
                try table.store(data, at: i * 16); try table.store(UInt32(8), at: i * 16 + 8)
                try table.store(Descriptor.Flags.next.rawValue, at: i * 16 + 12); try table.store(UInt16(1 - i), at: i * 16 + 14)
            }
            return [Descriptor(address: table.guestAddress.raw, length: 32, flags: .indirect)]
        }
    }

    @Test func indirectNextPointsPastItsTable() throws {
        try expectChain(.indexOutOfRange(index: 5, tableSize: 1)) { f in
            let table = try f.buffer(16)
            try table.store(try f.buffer(8).guestAddress.raw, at: 0); try table.store(UInt32(8), at: 8)
            try table.store(Descriptor.Flags.next.rawValue, at: 12); try table.store(UInt16(5), at: 14)
            return [Descriptor(address: table.guestAddress.raw, length: 16, flags: .indirect)]
        }
    }

    /// Lengths that each fit in memory but add up past 4 GiB (sparse 3 GiB memfd; pages are never touched).
    @Test func chainLongerThanFourGiB() throws {
        try expectChain(.totalLengthOverflow, ramSize: 3 << 30) { f in
            let b = try f.buffer(16).guestAddress.raw
            return [Descriptor(address: b, length: 0xB000_0000, flags: [.write, .next], next: 1),
                    Descriptor(address: b, length: 0xB000_0000, flags: .write)]
        }
    }
}
