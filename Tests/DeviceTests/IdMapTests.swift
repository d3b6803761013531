import Devices
import Testing

@Suite struct IdMapTests {
    @Test func rangesMapBothWaysAndShowUnmappedHostIdsAsOverflow() throws {
        let map = try IdMap(parsing: ["0:100000:65536"])
        #expect(map.host(forGuest: 0) == 100000)
        #expect(map.host(forGuest: 65535) == 165535)
        #expect(map.host(forGuest: 65536) == nil)
        #expect(map.guest(forHost: 100001) == 1)
        #expect(map.guest(forHost: 0) == IdMap.overflow, "the host's root is nobody in the guest")
        #expect(try IdMap(parsing: []) == .identity)
        #expect(IdMap.identity.host(forGuest: 7) == 7 && IdMap.identity.guest(forHost: 7) == 7)
    }

    @Test func malformedAndOverlappingRangesAreRefused() {
        #expect(throws: IdMapError.malformed("1:2")) { try IdMap(parsing: ["1:2"]) }
        #expect(throws: IdMapError.emptyRange) { try IdMap(parsing: ["1:2:0"]) }
        #expect(throws: IdMapError.beyondIdSpace) { try IdMap(parsing: ["4294967295:0:2"]) }
        #expect(throws: (any Error).self) { try IdMap(parsing: ["0:1000:10", "5:2000:10"]) }
        #expect(throws: (any Error).self) { try IdMap(parsing: ["0:1000:10", "100:1005:10"]) }
    }
}
