import SystemCalls
import Testing
import VhostUser

/// GET_INFLIGHT_FD / SET_INFLIGHT_FD on the wire: QEMU's padded 24-byte payload and a packed
/// peer's 20 bytes both decode; anything else, or SET without exactly one descriptor, does not.
@Suite struct InflightMessages {
    private func message(_ request: VhostUserRequest, _ payload: [UInt8], _ fds: [FileDescriptor] = []) -> VhostUserMessage {
        VhostUserMessage(request: request.rawValue, payload: payload, descriptors: fds)
    }

    @Test func paddedAndPackedDescriptionsDecodeAlike() throws {
        let d = InflightDescription(mmapSize: 0x1234, mmapOffset: 0x40, queueCount: 2, queueSize: 128)
        #expect(d.encode().count == 24 && d.encode(size: 20).count == 20)
        for size in [24, 20] {
            guard case let .getInflightFD(got) = try VhostUserCommand.decode(message(.getInflightFD, d.encode(size: size))) else {
                Issue.record("GET_INFLIGHT_FD did not decode"); continue
            }
            #expect(got == d)
        }
        let fd = try EventFD().descriptor
        guard case let .setInflightFD(got, file) = try VhostUserCommand.decode(message(.setInflightFD, d.encode(), [fd])) else {
            Issue.record("SET_INFLIGHT_FD did not decode"); return
        }
        #expect(got == d && file.rawValue == fd.rawValue)
        #expect(VhostUserCommand.getInflightFD(d).expectsReply)
        #expect(!VhostUserCommand.setInflightFD(d, fd).expectsReply)
    }

    @Test func otherSizesAndDescriptorCountsAreRefused() throws {
        let d = InflightDescription(mmapSize: 64, queueCount: 1, queueSize: 1).encode()
        for bad in [[], Array(d.prefix(19)), d + [0], d + [UInt8](repeating: 0, count: 8)] {
            #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(message(.getInflightFD, bad)) }
            #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(message(.setInflightFD, bad, [try EventFD().descriptor])) }
        }
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(message(.setInflightFD, d)) }
        #expect(throws: VhostUserError.self) {
            try VhostUserCommand.decode(message(.setInflightFD, d, [try EventFD().descriptor, try EventFD().descriptor]))
        }
        #expect(throws: VhostUserError.self) { try VhostUserCommand.decode(message(.getInflightFD, d, [try EventFD().descriptor])) }
    }

    @Test func theLayoutSplitsTheAreaAmongTheQueuesAndRefusesShortAreas() {
        // As this back end makes them: room for the largest ring per queue.
        let made = InflightDescription(mmapSize: 2 * 16448, queueCount: 2, queueSize: 128)
        #expect(made.layout(maxQueueSize: 1024)! == (16448, 1024))
        // As libvhost-user makes them: exactly the named queue size.
        let exact = InflightDescription(mmapSize: 2112, queueCount: 1, queueSize: 128)
        #expect(exact.layout(maxQueueSize: 1024)! == (2112, 131))
        // Too short, or sizes of zero.
        #expect(InflightDescription(mmapSize: 2111, queueCount: 1, queueSize: 128).layout(maxQueueSize: 1024) == nil)
        #expect(InflightDescription(mmapSize: 4096, queueCount: 0, queueSize: 128).layout(maxQueueSize: 1024) == nil)
        #expect(InflightDescription(mmapSize: 4096, queueCount: 1, queueSize: 0).layout(maxQueueSize: 1024) == nil)
        // A huge area is used only as far as the largest ring needs.
        #expect(InflightDescription(mmapSize: .max, queueCount: 1, queueSize: 16).layout(maxQueueSize: 1024)! == (16448, 1024))
    }
}
