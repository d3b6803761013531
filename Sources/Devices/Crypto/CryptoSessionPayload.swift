/// QEMU's `VhostUserCryptoSession` (hw/virtio/vhost-user.c), which QEMU copies whole into
/// VHOST_USER_CREATE_CRYPTO_SESSION and expects back, the same size, with `session_id` set.
/// Two layouts exist; the payload's size tells which. In both, `CryptoDevBackendSymSessionInfo`
/// (48 bytes, host byte order) starts at 8 and the cipher key array at 56:
///
///     SymSessionInfo: u32 cipher_alg @0, key_len @4, hash_alg @8, hash_result_len @12,
///                     auth_key_len @16, add_len @20; u8 op_type @24, direction @25,
///                     hash_mode @26, alg_chain_order @27; 4 bytes padding; two host
///                     pointers @32 and @40 (meaningless here, ignored)
public enum CryptoSessionLayout: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// QEMU before its asymmetric-session change (7.2 among them): i64 session_id @0,
    /// SymSessionInfo @8, key[64] @56, auth_key[512] @120.
    case qemu72 = 632
    /// QEMU since asymmetric sessions (10.0 among them): u64 op_code @0 (the control queue's
    /// VIRTIO_CRYPTO_*_CREATE_SESSION), a 1056-byte union @8 of {SymSessionInfo, key[64],
    /// auth_key[512]} and {AsymSessionInfo (32), key[1024]}, i64 session_id @1064.
    case qemu10 = 1072

    /// Bytes of the payload.
    public var size: Int { rawValue }
    /// Where the reply's `session_id` goes.
    public var sessionIDOffset: Int { self == .qemu72 ? 0 : 1064 }
    static let infoOffset = 8
    static let keyOffset = 56
    static let authKeyOffset = 120
    /// VHOST_CRYPTO_SYM_CIPHER_MAX_KEY_LEN / _HMAC_MAX_KEY_LEN: the key arrays' sizes.
    public static let keyCapacity = 64
    public static let authKeyCapacity = 512

    /// The layout of a payload of `size` bytes, if QEMU has one that size.
    public init?(size: Int) { self.init(rawValue: size) }

    /// A successful reply: zeros (no key travels back) with the session id in place (and, for
    /// `qemu10`, the op_code echoed).
    public func reply(sessionID: Int64, opCode: UInt64 = CryptoCodes.cipherCreateSession) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        if self == .qemu10 { bytes.storeLE(opCode, at: 0) }
        bytes.storeLE(UInt64(bitPattern: sessionID), at: sessionIDOffset)
        return bytes
    }

    /// The reply to a refused request of `size` bytes: all 0xFF, so `session_id` reads -1 in
    /// either layout (and in any layout QEMU may add, wherever it puts the id).
    public static func refusal(size: Int) -> [UInt8] { [UInt8](repeating: 0xFF, count: size) }

    /// The session id a reply carries (what QEMU reads), or nil for a size QEMU does not send.
    public static func sessionID(inReply bytes: [UInt8]) -> Int64? {
        guard let layout = CryptoSessionLayout(size: bytes.count) else { return nil }
        return Int64(bitPattern: bytes.loadLE(UInt64.self, at: layout.sessionIDOffset))
    }

    public var description: String { self == .qemu72 ? "QEMU 7.2 (632 bytes)" : "QEMU 10 (1072 bytes)" }
}

/// The fields of a session request, for building payloads (the Swift front end, tests, fuzz
/// seeds). Any values can be set, hostile ones included; `encode` copies at most the arrays'
/// capacity of key bytes.
public struct CryptoSessionPayload: Sendable {
    public var opCode = CryptoCodes.cipherCreateSession
    public var cipherAlgorithm: UInt32
    public var keyLength: UInt32
    public var hashAlgorithm: UInt32 = 0
    public var hashResultLength: UInt32 = 0
    public var authKeyLength: UInt32 = 0
    public var opType = UInt8(CryptoCodes.symOpCipher)
    public var direction: UInt8
    public var algorithmChainOrder: UInt8 = 0
    public var key: [UInt8]
    public var authKey: [UInt8] = []

    /// A cipher session with `key` (its length as `key_len`).
    public init(algorithm: CipherAlgorithm, direction: CipherDirection, key: [UInt8]) {
        cipherAlgorithm = algorithm.rawValue
        keyLength = UInt32(key.count)
        self.direction = direction.rawValue
        self.key = key
    }

    public func encode(_ layout: CryptoSessionLayout) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: layout.size)
        if layout == .qemu10 { b.storeLE(opCode, at: 0) } else { b.storeLE(UInt64(0), at: 0) }
        let info = CryptoSessionLayout.infoOffset
        for (i, v) in [cipherAlgorithm, keyLength, hashAlgorithm, hashResultLength, authKeyLength, 0].enumerated() {
            b.storeLE(v, at: info + 4 * i)
        }
        b[info + 24] = opType
        b[info + 25] = direction
        b[info + 27] = algorithmChainOrder
        for (i, byte) in key.prefix(CryptoSessionLayout.keyCapacity).enumerated() { b[CryptoSessionLayout.keyOffset + i] = byte }
        for (i, byte) in authKey.prefix(CryptoSessionLayout.authKeyCapacity).enumerated() { b[CryptoSessionLayout.authKeyOffset + i] = byte }
        return b
    }
}

/// A cipher session the device will key: what a CREATE_CRYPTO_SESSION asked for, checked.
public struct CipherSessionSetup: Sendable {
    public let layout: CryptoSessionLayout
    public let algorithm: CipherAlgorithm
    public let direction: CipherDirection
    /// The key, copied straight from the payload into wiped-on-release storage.
    public let key: SecretBytes

    /// Decodes and checks a payload. Refuses sizes QEMU does not send, every session but a plain
    /// cipher one (hash, MAC, AEAD, asymmetric, algorithm chaining), algorithms other than
    /// `CipherAlgorithm`'s, key lengths the algorithm does not have (and any over the key array),
    /// and unknown directions. Reads only inside the payload; allocates only the key.
    public static func decode(_ payload: [UInt8]) throws(CryptoSessionRefusal) -> CipherSessionSetup {
        guard let layout = CryptoSessionLayout(size: payload.count) else { throw .unknownSize(payload.count) }
        if layout == .qemu10 {
            let opCode = payload.loadLE(UInt64.self, at: 0)
            guard opCode == CryptoCodes.cipherCreateSession else { throw .notCipher(opCode: opCode) }
        }
        let info = CryptoSessionLayout.infoOffset
        let opType = payload[info + 24]
        guard UInt32(opType) != CryptoCodes.symOpAlgorithmChaining else { throw .algorithmChaining }
        guard UInt32(opType) == CryptoCodes.symOpCipher else { throw .opType(opType) }
        let rawAlgorithm = payload.loadLE(UInt32.self, at: info)
        guard let algorithm = CipherAlgorithm(rawValue: rawAlgorithm) else { throw .algorithm(rawAlgorithm) }
        let keyLength = payload.loadLE(UInt32.self, at: info + 4)
        guard keyLength <= UInt32(CryptoSessionLayout.keyCapacity), algorithm.keyLengths.contains(Int(keyLength)) else {
            throw .keyLength(algorithm, keyLength)
        }
        guard let direction = CipherDirection(rawValue: payload[info + 25]) else { throw .direction(payload[info + 25]) }
        let start = CryptoSessionLayout.keyOffset
        return CipherSessionSetup(layout: layout, algorithm: algorithm, direction: direction,
                                  key: SecretBytes.copying(payload[start..<(start + Int(keyLength))]))
    }
}

/// Why a CREATE_CRYPTO_SESSION got session id -1.
public enum CryptoSessionRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownSize(Int)
    /// A hash, MAC, AEAD or asymmetric session (QEMU 10's op_code).
    case notCipher(opCode: UInt64)
    case algorithmChaining
    case opType(UInt8)
    case algorithm(UInt32)
    case keyLength(CipherAlgorithm, UInt32)
    case direction(UInt8)
    case tooManySessions(limit: Int)
    /// The cipher library would not key it.
    case keyRejected(CipherEngineError)

    public var description: String {
        switch self {
        case let .unknownSize(size):
            return "a \(size)-byte session payload (known: \(CryptoSessionLayout.allCases.map { "\($0.size) for \($0)" }.joined(separator: ", ")))"
        case let .notCipher(code): return "op_code 0x\(String(code, radix: 16)) (only cipher sessions, 0x2, are supported)"
        case .algorithmChaining: return "algorithm chaining (cipher + hash) is not supported"
        case let .opType(t): return "op_type \(t) (only 1, cipher)"
        case let .algorithm(a): return "cipher algorithm \(a) (supported: \(CipherAlgorithm.allCases.map { "\($0.rawValue) \($0)" }.joined(separator: ", ")))"
        case let .keyLength(a, n): return "a \(n)-byte key for \(a) (takes \(a.keyLengths.sorted().map(String.init).joined(separator: "/")))"
        case let .direction(d): return "direction \(d) (1 encrypt, 2 decrypt)"
        case let .tooManySessions(limit): return "the VM already has \(limit) sessions open"
        case let .keyRejected(e): return "the key was rejected: \(e)"
        }
    }
}

extension Array where Element == UInt8 {
    /// A little-endian integer at `offset`; the caller has checked the bounds.
    func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value = T.zero
        for i in 0..<MemoryLayout<T>.size { value |= T(self[offset + i]) << (8 * i) }
        return value
    }

    mutating func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for i in 0..<MemoryLayout<T>.size { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}
