@testable import Devices
import Glibc
import Testing

/// `OpenSSLCipher` (CCrypto over libcrypto) on plain memory, and the key storage's wiping.
@Suite("Crypto cipher engine (AVPS-v2.0-45)")
struct CryptoCipherTests {
    /// Runs `engine` over `input` cut into `inSplit` pieces, writing into pieces of `outSplit`.
    private func run(_ engine: CipherEngine, iv: [UInt8], _ input: [UInt8], _ inSplit: [Int], _ outSplit: [Int]) throws -> [UInt8] {
        var source = input
        var output = [UInt8](repeating: 0xEE, count: input.count)
        func vectors(_ base: UnsafeMutableRawPointer, _ total: Int, _ split: [Int]) -> [iovec] {
            var out: [iovec] = []
            var at = 0
            for size in split + [total] where at < total {
                let n = min(size, total - at)
                out.append(iovec(iov_base: base + at, iov_len: n))
                at += n
            }
            return out
        }
        try source.withUnsafeMutableBytes { s in
            try output.withUnsafeMutableBytes { d in
                try iv.withUnsafeBytes { v in
                    try engine.run(iv: v, source: vectors(s.baseAddress!, s.count, inSplit),
                                   destination: vectors(d.baseAddress!, d.count, outSplit), length: input.count)
                }
            }
        }
        return output
    }

    private func engine(_ a: CipherAlgorithm, _ d: CipherDirection, _ key: [UInt8]) throws -> OpenSSLCipher {
        try OpenSSLCipher(algorithm: a, direction: d, key: key.withUnsafeBytes { SecretBytes(copying: $0) })
    }

    @Test("AVPS-v2.0-45: SP 800-38A CBC and CTR known answers however the buffers split the blocks")
    func knownAnswersAnySplit() throws {
        let enc = try engine(.aesCBC, .encrypt, SP80038A.key128)
        let dec = try engine(.aesCBC, .decrypt, SP80038A.key256)
        let ctr = try engine(.aesCTR, .encrypt, SP80038A.key128)
        for (inSplit, outSplit) in [([], []), ([16], [48]), ([1, 2, 3, 4, 5], [15, 17]), ([63], [1, 62]), ([7, 7, 7, 7, 7, 7, 7, 7, 7], [33])] {
            #expect(try run(enc, iv: SP80038A.cbcIV, SP80038A.plaintext, inSplit, outSplit) == SP80038A.cbc128)
            #expect(try run(dec, iv: SP80038A.cbcIV, SP80038A.cbc256, inSplit, outSplit) == SP80038A.plaintext)
            #expect(try run(ctr, iv: SP80038A.ctrCounter, SP80038A.plaintext, inSplit, outSplit) == SP80038A.ctr128)
        }
    }

    @Test("AVPS-v2.0-45: the engine refuses partial CBC blocks, wrong IVs and short buffer lists, and works again afterwards")
    func backstops() throws {
        let enc = try engine(.aesCBC, .encrypt, SP80038A.key128)
        #expect(throws: CipherEngineError.invalidArguments) { try run(enc, iv: SP80038A.cbcIV, Array(SP80038A.plaintext[0..<20]), [], []) }
        #expect(throws: CipherEngineError.invalidArguments) { try run(enc, iv: [1, 2, 3], SP80038A.plaintext, [], []) }
        var tiny = [UInt8](repeating: 0, count: 16)
        #expect(throws: CipherEngineError.invalidArguments) {
            try tiny.withUnsafeMutableBytes { b in
                try SP80038A.cbcIV.withUnsafeBytes { v in
                    try enc.run(iv: v, source: [iovec(iov_base: b.baseAddress, iov_len: 16)],
                                destination: [iovec(iov_base: b.baseAddress, iov_len: 16)], length: 32)
                }
            }
        }
        #expect(try run(enc, iv: SP80038A.cbcIV, SP80038A.plaintext, [], []) == SP80038A.cbc128)
        #expect(throws: CipherEngineError.invalidArguments) { try engine(.aesCBC, .encrypt, [UInt8](repeating: 1, count: 20)) }
    }

    @Test("AVPS-v2.0-45: key storage is zero after wipe() (OPENSSL_cleanse, not a removable store)")
    func wiping() throws {
        let key = SecretBytes.copying([1, 2, 3, 4, 5, 6, 7, 8][...])
        #expect(!key.isZero && key.count == 8)
        key.wipe()
        #expect(key.isZero && key.count == 8)
        #expect(key.withUnsafeBytes { Array($0) } == [UInt8](repeating: 0, count: 8))
    }
}
