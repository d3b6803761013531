import Devices
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// VHOST_USER_CREATE_CRYPTO_SESSION (26) and VHOST_USER_CLOSE_CRYPTO_SESSION (27): decoding,
/// and the back end's dispatch to a `CryptoSessionDevice` as QEMU's cryptodev-vhost-user expects.
@Suite("Crypto session messages (AVPS-v2.0-45)")
struct CryptoSessionMessageTests {
    private let logger = Logger(label: "test.crypto-messages")

    private func message(_ command: VhostUserCommand, flags: VhostUserHeader.Flags = []) -> VhostUserMessage {
        let (request, payload, fds) = command.encode()
        return VhostUserMessage(request: request.rawValue, flags: flags, payload: payload, descriptors: fds)
    }

    private func u64(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// A back end with REPLY_ACK negotiated.
    private func backend(_ device: VirtioDevice) throws -> VhostUserBackend {
        let b = VhostUserBackend(device: device, logger: logger)
        _ = try b.handle(message(.setProtocolFeatures(VhostUserProtocolFeatures.replyAck.rawValue)))
        return b
    }

    @Test("AVPS-v2.0-45: create takes any payload a message can carry and expects a reply; close takes a u64")
    func decoding() throws {
        for size in [0, 632, 1072, 4096] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
            guard case let .createCryptoSession(bytes) = try VhostUserCommand.decode(message(.createCryptoSession(payload))) else {
                Issue.record("create \(size)"); continue
            }
            #expect(bytes == payload)
        }
        #expect(VhostUserCommand.createCryptoSession([]).expectsReply)
        #expect(!VhostUserCommand.closeCryptoSession(1).expectsReply)
        guard case .closeCryptoSession(0x1122_3344_5566_7788) = try VhostUserCommand.decode(message(.closeCryptoSession(0x1122_3344_5566_7788))) else {
            Issue.record("close"); return
        }
        #expect(throws: VhostUserError.self) {
            try VhostUserCommand.decode(VhostUserMessage(request: VhostUserRequest.closeCryptoSession.rawValue, payload: [1, 2, 3]))
        }
        #expect(throws: VhostUserError.self) {
            try VhostUserCommand.decode(VhostUserMessage(request: VhostUserRequest.createCryptoSession.rawValue, payload: [0],
                                                         descriptors: [try EventFD().descriptor]))
        }
    }

    @Test("AVPS-v2.0-45: PROTOCOL_F_CRYPTO_SESSION is offered to crypto devices only")
    func featureOffer() {
        #expect(VhostUserBackend(device: CryptoDevice(logger: logger), logger: logger).offeredProtocolFeatures.contains(.cryptoSession))
        #expect(!VhostUserBackend(device: EntropyDevice(logger: logger), logger: logger).offeredProtocolFeatures.contains(.cryptoSession))
    }

    @Test("AVPS-v2.0-45: CREATE is answered with the same request, REPLY flag and size, the session id inside")
    func createReply() throws {
        let device = CryptoDevice(logger: logger)
        let b = try backend(device)
        for layout in CryptoSessionLayout.allCases {
            let payload = CryptoSessionPayload(algorithm: .aesCBC, direction: .encrypt, key: [UInt8](repeating: 7, count: 16)).encode(layout)
            let reply = try #require(try b.handle(message(.createCryptoSession(payload), flags: .needReply)))
            #expect(reply.header.request == 26)
            #expect(reply.header.flags.rawValue == VhostUserHeader.Flags.reply.rawValue | 1, "REPLY | version 1, no NEED_REPLY")
            #expect(reply.header.size == UInt32(layout.size) && reply.payload.count == layout.size)
            let id = try #require(CryptoSessionLayout.sessionID(inReply: reply.payload))
            #expect(id > 0)
            #expect(!reply.payload.contains(7), "no key bytes travel back")
        }
        #expect(device.openSessions == 2)
        let odd = try #require(try b.handle(message(.createCryptoSession([UInt8](repeating: 1, count: 700)))))
        #expect(odd.payload == [UInt8](repeating: 0xFF, count: 700), "unknown size: -1 whatever the layout")
    }

    @Test("AVPS-v2.0-45: CLOSE acks 0 for an open session and 1 for an unknown one, and is silent without NEED_REPLY")
    func closeAck() throws {
        let device = CryptoDevice(logger: logger)
        let b = try backend(device)
        let payload = CryptoSessionPayload(algorithm: .aesCBC, direction: .decrypt, key: [UInt8](repeating: 3, count: 32)).encode(.qemu10)
        let created = try #require(try b.handle(message(.createCryptoSession(payload))))
        let id = UInt64(bitPattern: try #require(CryptoSessionLayout.sessionID(inReply: created.payload)))
        let ack = try #require(try b.handle(message(.closeCryptoSession(id), flags: .needReply)))
        #expect(ack.header.request == 27 && u64(ack.payload) == 0)
        let again = try #require(try b.handle(message(.closeCryptoSession(id), flags: .needReply)))
        #expect(u64(again.payload) == 1, "already closed")
        #expect(try b.handle(message(.closeCryptoSession(99))) == nil, "no NEED_REPLY, no reply")
        #expect(device.openSessions == 0)
    }

    @Test("AVPS-v2.0-45: a device without sessions answers CREATE with -1 and refuses CLOSE")
    func nonCryptoDevice() throws {
        let b = try backend(EntropyDevice(logger: logger))
        let reply = try #require(try b.handle(message(.createCryptoSession([UInt8](repeating: 0, count: 1072)))))
        #expect(reply.payload.count == 1072 && CryptoSessionLayout.sessionID(inReply: reply.payload) == -1)
        let ack = try #require(try b.handle(message(.closeCryptoSession(1), flags: .needReply)))
        #expect(u64(ack.payload) == 1)
    }
}
