import Devices
import Testing

/// QEMU's VhostUserCryptoSession in its two layouts, decoded by `CipherSessionSetup.decode`.
@Suite("Crypto session payloads (AVPS-v2.0-45)")
struct CryptoSessionPayloadTests {
    /// A payload written byte by byte at the offsets of QEMU's structs (not through the encoder).
    private func handmade(size: Int, opCode: UInt64?, algorithm: UInt8, keyLength: UInt8, opType: UInt8, direction: UInt8,
                          key: [UInt8]) -> [UInt8] {
        var b = [UInt8](repeating: 0xA5, count: size)   // garbage everywhere the decoder must not look
        if let opCode { for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: opCode >> (8 * UInt64(i))) } }
        b[8] = algorithm; b[9] = 0; b[10] = 0; b[11] = 0          // cipher_alg
        b[12] = keyLength; b[13] = 0; b[14] = 0; b[15] = 0        // key_len
        b[32] = opType                                            // op_type
        b[33] = direction                                         // direction
        for (i, k) in key.enumerated() { b[56 + i] = k }          // key[64]
        return b
    }

    @Test("AVPS-v2.0-45: QEMU 7.2 (632 bytes) and QEMU 10 (1072 bytes) layouts decode to the same session")
    func layouts() throws {
        let key = Array(0..<32).map { UInt8($0) &* 7 &+ 1 }
        let old = try CipherSessionSetup.decode(handmade(size: 632, opCode: nil, algorithm: 3, keyLength: 32, opType: 1, direction: 2, key: key))
        #expect(old.layout == .qemu72 && old.algorithm == .aesCBC && old.direction == .decrypt)
        #expect(old.key.withUnsafeBytes { Array($0) } == key)
        let new = try CipherSessionSetup.decode(handmade(size: 1072, opCode: 2, algorithm: 3, keyLength: 16, opType: 1, direction: 1, key: key))
        #expect(new.layout == .qemu10 && new.direction == .encrypt)
        #expect(new.key.withUnsafeBytes { Array($0) } == Array(key[0..<16]), "key_len bytes of the key array")
        // The encoder writes the same offsets.
        var p = CryptoSessionPayload(algorithm: .aesCTR, direction: .encrypt, key: key)
        let viaEncoder = try CipherSessionSetup.decode(p.encode(.qemu72))
        #expect(viaEncoder.algorithm == .aesCTR && viaEncoder.key.count == 32)
        p.opCode = CryptoCodes.akcipherCreateSession
        #expect(throws: CryptoSessionRefusal.notCipher(opCode: 0x402)) { try CipherSessionSetup.decode(p.encode(.qemu10)) }
        #expect(throws: Never.self) { try CipherSessionSetup.decode(p.encode(.qemu72)) }   // 7.2 has no op_code
    }

    @Test("AVPS-v2.0-45: replies carry the id where QEMU reads it, no key, and -1 as all 0xFF")
    func replies() throws {
        let old = CryptoSessionLayout.qemu72.reply(sessionID: 5)
        #expect(old.count == 632 && old[0] == 5 && old[1...].allSatisfy { $0 == 0 })
        let new = CryptoSessionLayout.qemu10.reply(sessionID: 0x1234)
        #expect(new.count == 1072 && new[0] == 2 && new[1064] == 0x34 && new[1065] == 0x12)
        #expect(new.enumerated().allSatisfy { i, b in [0, 1064, 1065].contains(i) || b == 0 })
        #expect(CryptoSessionLayout.sessionID(inReply: new) == 0x1234)
        for size in [632, 1072] {
            #expect(CryptoSessionLayout.sessionID(inReply: CryptoSessionLayout.refusal(size: size)) == -1)
        }
        #expect(CryptoSessionLayout.sessionID(inReply: [UInt8](repeating: 0, count: 100)) == nil)
    }

    @Test("AVPS-v2.0-45: unknown sizes, other services, chaining, algorithms, key lengths and directions are refused")
    func refusals() throws {
        for size in [0, 1, 8, 624, 631, 633, 1056, 1071, 1073, 4096] {
            #expect(throws: CryptoSessionRefusal.unknownSize(size)) { try CipherSessionSetup.decode([UInt8](repeating: 0, count: size)) }
        }
        #expect(CryptoSessionRefusal.unknownSize(5).description.contains("632") && CryptoSessionRefusal.unknownSize(5).description.contains("1072"))
        for code in [CryptoCodes.hashCreateSession, CryptoCodes.macCreateSession, CryptoCodes.aeadCreateSession, CryptoCodes.akcipherCreateSession, 0, 0xFFFF_FFFF_FFFF_FFFF] {
            #expect(throws: CryptoSessionRefusal.notCipher(opCode: code)) {
                try CipherSessionSetup.decode(handmade(size: 1072, opCode: code, algorithm: 3, keyLength: 16, opType: 1, direction: 1, key: []))
            }
        }
        func decode72(algorithm: UInt8 = 3, keyLength: UInt8 = 16, opType: UInt8 = 1, direction: UInt8 = 1) throws(CryptoSessionRefusal) {
            _ = try CipherSessionSetup.decode(handmade(size: 632, opCode: nil, algorithm: algorithm, keyLength: keyLength,
                                                       opType: opType, direction: direction, key: []))
        }
        #expect(throws: CryptoSessionRefusal.algorithmChaining) { try decode72(opType: 2) }
        #expect(throws: CryptoSessionRefusal.opType(0)) { try decode72(opType: 0) }
        #expect(throws: CryptoSessionRefusal.algorithm(2)) { try decode72(algorithm: 2) }      // AES-ECB
        #expect(throws: CryptoSessionRefusal.algorithm(0)) { try decode72(algorithm: 0) }
        #expect(throws: CryptoSessionRefusal.keyLength(.aesCBC, 17)) { try decode72(keyLength: 17) }
        #expect(throws: CryptoSessionRefusal.keyLength(.aesCBC, 64)) { try decode72(keyLength: 64) }
        #expect(throws: CryptoSessionRefusal.keyLength(.aesCBC, 200)) { try decode72(keyLength: 200) }
        #expect(throws: CryptoSessionRefusal.keyLength(.aesXTS, 16)) { try decode72(algorithm: 13, keyLength: 16) }
        #expect(throws: Never.self) { try decode72(algorithm: 13, keyLength: 64) }
        #expect(throws: CryptoSessionRefusal.direction(0)) { try decode72(direction: 0) }
        #expect(throws: CryptoSessionRefusal.direction(3)) { try decode72(direction: 3) }
        var huge = CryptoSessionPayload(algorithm: .aesCBC, direction: .encrypt, key: [])
        huge.keyLength = .max
        #expect(throws: CryptoSessionRefusal.keyLength(.aesCBC, .max)) { try CipherSessionSetup.decode(huge.encode(.qemu10)) }
    }

    @Test("AVPS-v2.0-45: request headers: fields at virtio_crypto_op_data_req's offsets; plans check lengths without overflow")
    func requestHeaders() throws {
        var bytes = [UInt8](repeating: 0, count: 72)
        bytes[0] = 1; bytes[8] = 9; bytes[24] = 16; bytes[28] = 0x40; bytes[32] = 0x50; bytes[64] = 1
        let h = try #require(CryptoRequestHeader(bytes: bytes))
        #expect(h.opcode == 1 && h.sessionID == 9 && h.ivLength == 16 && h.sourceLength == 64 && h.destinationLength == 80 && h.opType == 1)
        #expect(h.bytes == bytes)
        #expect(CryptoRequestHeader(bytes: Array(bytes[0..<71])) == nil)
        let lookup: (UInt64) -> (algorithm: CipherAlgorithm, direction: CipherDirection)? = { $0 == 9 ? (.aesCBC, .decrypt) : nil }
        #expect(try CryptoRequest.plan(h, readable: 72 + 16 + 64, writable: 81, lookup: lookup) == CryptoRequestPlan(sessionID: 9, ivLength: 16, length: 64))
        #expect(throws: CryptoRequestRefusal.writableTooShort(needed: 81, writable: 80)) {
            try CryptoRequest.plan(h, readable: 1000, writable: 80, lookup: lookup)
        }
        var max = h
        max.sourceLength = .max; max.destinationLength = .max
        #expect(throws: CryptoRequestRefusal.tooLarge(.max)) { try CryptoRequest.plan(max, readable: .max, writable: .max, lookup: lookup) }
        #expect(CryptoRequestRefusal.tooLarge(1).status == .noSpace && CryptoRequestRefusal.unknownSession(1).status == .invalidSession)
    }
}
