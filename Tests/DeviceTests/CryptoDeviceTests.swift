import AVPTestSupport
@testable import Devices
import SystemCalls
import Testing
import VhostUser
import Virtio

/// virtio-crypto (VIRTIO 1.2 §5.9) behind cryptodev-vhost-user: sessions through vhost-user
/// messages, symmetric cipher requests on the data queue.
@Suite("Crypto device (AVPS-v2.0-45)", .serialized)
struct CryptoDeviceTests {
    @Test("AVPS-v2.0-45: AES-128-CBC and AES-256-CBC known answers (SP 800-38A F.2.1, F.2.2, F.2.5, F.2.6) on the data queue")
    func knownAnswers() throws {
        let f = try CryptoFixture()
        for (key, expected, layout) in [(SP80038A.key128, SP80038A.cbc128, CryptoSessionLayout.qemu10),
                                        (SP80038A.key256, SP80038A.cbc256, .qemu72)] {
            let enc = try f.createSession(.encrypt, key: key, layout: layout)
            let dec = try f.createSession(.decrypt, key: key, layout: layout)
            #expect(enc > 0 && dec > 0 && enc != dec)
            let e = try f.cipher(enc, CryptoOp.encrypt, iv: SP80038A.cbcIV, SP80038A.plaintext)
            #expect(e.status == CryptoStatus.ok.rawValue)
            #expect(e.used == 64 + 1, "destination bytes and the status byte")
            #expect(e.destination == expected)
            let d = try f.cipher(dec, CryptoOp.decrypt, iv: SP80038A.cbcIV, expected)
            #expect(d.status == CryptoStatus.ok.rawValue && d.destination == SP80038A.plaintext)
        }
        #expect(f.device.requestsServed == 4 && f.device.bytesProcessed == 256)
        #expect(f.device.openSessions == 4)
    }

    @Test("AVPS-v2.0-45: scattered source and destination, blocks split across descriptors, give the same answer")
    func scattered() throws {
        let f = try CryptoFixture()
        let enc = try f.createSession(.encrypt, key: SP80038A.key128)
        for (s, d) in [([16, 16, 16], [32]), ([5, 27, 1, 15], [17, 1, 30]), ([1, 1, 1, 1, 1, 1, 1, 1], [3, 3, 3, 3, 3, 3, 3, 3])] {
            let r = try f.cipher(enc, CryptoOp.encrypt, iv: SP80038A.cbcIV, SP80038A.plaintext, sourceSplit: s, destinationSplit: d)
            #expect(r.status == CryptoStatus.ok.rawValue && r.destination == SP80038A.cbc128, "split \(s) → \(d)")
        }
        // A header split over two descriptors, and a destination with room to spare before the status byte.
        let header = CryptoRequestHeader(opcode: CryptoOp.encrypt, sessionID: UInt64(enc), ivLength: 16, sourceLength: 64, destinationLength: 64)
        let roomy = try f.request(header, iv: SP80038A.cbcIV, source: SP80038A.plaintext, destinationRoom: 100)
        #expect(roomy.status == 0 && Array(roomy.destination[0..<64]) == SP80038A.cbc128 && roomy.used == 65)
        #expect(roomy.destination[64...].allSatisfy { $0 == 0xEE }, "nothing written past the data")
    }

    @Test("AVPS-v2.0-45: encrypt then decrypt round trips (AES-192-CBC 64 KiB, AES-CTR with its known answer and odd lengths, AES-XTS)")
    func roundTrips() throws {
        let f = try CryptoFixture()
        let data = try SystemRandom.bytes(64 * 1024)
        let key = try SystemRandom.bytes(24)
        let iv = try SystemRandom.bytes(16)
        let enc = try f.createSession(.encrypt, key: key)
        let dec = try f.createSession(.decrypt, key: key)
        let sealed = try f.cipher(enc, CryptoOp.encrypt, iv: iv, data, sourceSplit: [4096, 4096, 1000], destinationSplit: [777])
        #expect(sealed.status == 0 && sealed.destination != data)
        let opened = try f.cipher(dec, CryptoOp.decrypt, iv: iv, sealed.destination, sourceSplit: [333])
        #expect(opened.status == 0 && opened.destination == data)

        let ctr = try f.createSession(.encrypt, key: SP80038A.key128, algorithm: .aesCTR)
        let c = try f.cipher(ctr, CryptoOp.encrypt, iv: SP80038A.ctrCounter, SP80038A.plaintext, sourceSplit: [7, 30])
        #expect(c.status == 0 && c.destination == SP80038A.ctr128, "SP 800-38A F.5.1")
        let odd = try f.cipher(ctr, CryptoOp.encrypt, iv: SP80038A.ctrCounter, Array(SP80038A.plaintext[0..<23]))
        #expect(odd.status == 0 && odd.destination == Array(SP80038A.ctr128[0..<23]), "a stream mode takes any length")

        let xtsKey = try SystemRandom.bytes(64)
        let xe = try f.createSession(.encrypt, key: xtsKey, algorithm: .aesXTS)
        let xd = try f.createSession(.decrypt, key: xtsKey, algorithm: .aesXTS)
        let sector = try SystemRandom.bytes(512)
        let x = try f.cipher(xe, CryptoOp.encrypt, iv: iv, sector, sourceSplit: [100, 300])
        #expect(x.status == 0 && x.destination != sector)
        #expect(try f.cipher(xd, CryptoOp.decrypt, iv: iv, x.destination, destinationSplit: [16]).destination == sector)
    }

    @Test("AVPS-v2.0-45: hostile requests get a status and leave the destination alone")
    func hostileRequests() throws {
        let f = try CryptoFixture()
        let enc = try f.createSession(.encrypt, key: SP80038A.key128)
        let p = SP80038A.plaintext
        func status(_ h: CryptoRequestHeader, iv: [UInt8] = SP80038A.cbcIV, source: [UInt8] = p, room: Int? = nil) throws -> UInt8 {
            let r = try f.request(h, iv: iv, source: source, destinationRoom: room ?? 64)
            #expect(r.destination.allSatisfy { $0 == 0xEE }, "destination untouched")
            #expect(r.used == 1, "only the status byte")
            return r.status
        }
        func header(_ op: UInt32 = CryptoOp.encrypt, session: Int64, iv: UInt32 = 16, src: UInt32 = 64, dst: UInt32 = 64,
                    opType: UInt32 = CryptoCodes.symOpCipher) -> CryptoRequestHeader {
            CryptoRequestHeader(opcode: op, sessionID: UInt64(bitPattern: session), ivLength: iv, sourceLength: src,
                                destinationLength: dst, opType: opType)
        }
        let invalid = CryptoStatus.invalidSession.rawValue, bad = CryptoStatus.badMessage.rawValue
        #expect(try status(header(session: 999)) == invalid, "unknown session")
        #expect(try status(header(session: -1)) == invalid)
        #expect(try status(header(CryptoOp.decrypt, session: enc)) == bad, "decrypt on an encrypt session")
        #expect(try status(header(session: enc, iv: 8), iv: Array(SP80038A.cbcIV[0..<8])) == bad, "iv_len 8")
        #expect(try status(header(session: enc, src: 60, dst: 60), source: Array(p[0..<60])) == bad, "CBC length not whole blocks")
        #expect(try status(header(session: enc, src: 64, dst: 48), room: 64) == bad, "dst_data_len < src_data_len")
        #expect(try status(header(session: enc, src: 128, dst: 128), room: 128) == bad, "src_data_len over the readable bytes")
        #expect(try status(header(session: enc), room: 48) == bad, "destination over the writable bytes")
        #expect(try status(header(session: enc, iv: .max)) == bad, "iv_len 2^32-1")
        #expect(try status(header(session: enc, src: .max, dst: .max)) == CryptoStatus.noSpace.rawValue, "src_data_len 2^32-1")
        #expect(try status(header(session: enc, src: UInt32(CryptoRequest.maxDataLength + 16), dst: .max)) == CryptoStatus.noSpace.rawValue)
        #expect(try status(header(0x0200, session: enc)) == CryptoStatus.notSupported.rawValue, "a HASH opcode")
        #expect(try status(header(session: enc, opType: CryptoCodes.symOpAlgorithmChaining)) == CryptoStatus.notSupported.rawValue)
        #expect(try status(header(session: enc, opType: 0)) == bad)
        // A header cut short: 40 device-readable bytes in all.
        let short = try f.request(header(session: enc), iv: [], source: [], destinationRoom: 64, headerBytes: 40)
        #expect(short.status == bad && short.used == 1)
        let bare = try f.request(header(session: enc), iv: [], source: [], destinationRoom: 64)
        #expect(bare.status == bad, "a header without its IV and source")
        // No writable byte: nothing written, the queue goes on.
        let mute = try f.request(header(session: enc), iv: SP80038A.cbcIV, source: p, destinationRoom: 0, statusByte: false)
        #expect(mute.used == 0)
        #expect(try f.cipher(enc, CryptoOp.encrypt, iv: SP80038A.cbcIV, p).destination == SP80038A.cbc128, "still serving")
        #expect(f.device.requestsServed == 1 && f.device.requestsRefused >= 17)
        #expect(f.driver.queues[0].ring.size == 64)
    }

    @Test("AVPS-v2.0-45: a closed session's id is refused (INVSESS), its key bytes are zero, and ids are not reused")
    func closedSessions() throws {
        let f = try CryptoFixture()
        let enc = try f.createSession(.encrypt, key: SP80038A.key256)
        let key = try #require(f.device.keyStorage(ofSession: UInt64(enc)))
        #expect(key.withUnsafeBytes { Array($0) } == SP80038A.key256)
        #expect(try f.closeSession(enc))
        #expect(key.isZero, "wiped on close")
        #expect(f.device.keyStorage(ofSession: UInt64(enc)) == nil)
        #expect(try !f.closeSession(enc), "closing twice is refused")
        #expect(try !f.closeSession(12345))
        let r = try f.cipher(enc, CryptoOp.encrypt, iv: SP80038A.cbcIV, SP80038A.plaintext)
        #expect(r.status == CryptoStatus.invalidSession.rawValue)
        let again = try f.createSession(.encrypt, key: SP80038A.key256)
        #expect(again > enc, "a new session never takes a closed one's id")
        #expect(try f.cipher(enc, CryptoOp.encrypt, iv: SP80038A.cbcIV, SP80038A.plaintext).status == CryptoStatus.invalidSession.rawValue)

        // A device reset closes every session and wipes every key.
        let other = try #require(f.device.keyStorage(ofSession: UInt64(again)))
        try f.driver.frontend.sendAcked(.resetDevice)
        #expect(other.isZero && f.device.openSessions == 0)
    }

    @Test("AVPS-v2.0-45: at most maxSessions per VM; refused sessions and keys read -1")
    func sessionLimitAndRefusals() throws {
        let f = try CryptoFixture(maxSessions: 3)
        let ids = try (0..<3).map { _ in try f.createSession(.encrypt, key: SP80038A.key128) }
        #expect(ids.allSatisfy { $0 > 0 } && Set(ids).count == 3)
        #expect(try f.createSession(.encrypt, key: SP80038A.key128) == -1, "over the limit")
        #expect(try f.closeSession(ids[1]))
        #expect(try f.createSession(.decrypt, key: SP80038A.key128) > ids[2], "a closed session frees a slot")
        #expect(try f.createSession(.encrypt, key: SP80038A.key128) == -1)
        _ = try f.closeSession(ids[0])

        var long = CryptoSessionPayload(algorithm: .aesCBC, direction: .encrypt, key: SP80038A.key128)
        long.keyLength = 65
        #expect(try f.createSession(raw: long.encode(.qemu10)) == -1, "key_len over the 64-byte key array")
        long.keyLength = .max
        #expect(try f.createSession(raw: long.encode(.qemu72)) == -1)
        var hash = CryptoSessionPayload(algorithm: .aesCBC, direction: .encrypt, key: SP80038A.key128)
        hash.opCode = CryptoCodes.hashCreateSession
        #expect(try f.createSession(raw: hash.encode(.qemu10)) == -1)
        var chain = CryptoSessionPayload(algorithm: .aesCBC, direction: .encrypt, key: SP80038A.key128)
        chain.opType = UInt8(CryptoCodes.symOpAlgorithmChaining)
        #expect(try f.createSession(raw: chain.encode(.qemu72)) == -1)
        for size in [0, 8, 631, 1073, 4096] {
            #expect(try f.createSession(raw: [UInt8](repeating: 0, count: size)) == -1, "a \(size)-byte payload: all 0xFF")
        }
        #expect(f.device.openSessions == 2)
    }
}
