/// The device-readable header of a data request, `virtio_crypto_op_data_req` (72 bytes, VIRTIO
/// 1.2 §5.9.7.2.1), as far as a symmetric cipher request uses it:
///
///     op_header: le32 opcode @0, le32 algo @4, le64 session_id @8, le32 flag @16, padding
///     u.sym_req: cipher para: le32 iv_len @24, le32 src_data_len @28, le32 dst_data_len @32,
///                padding to @64; le32 op_type @64; padding
///
/// After it the driver puts the IV (iv_len bytes) and the source (src_data_len) in device-readable
/// buffers, then device-writable room for the destination (dst_data_len) and last the one-byte
/// status (`virtio_crypto_inhdr`). Linux's skcipher driver gives each part its own descriptors.
public struct CryptoRequestHeader: Equatable, Sendable {
    public static let size = 72

    public var opcode: UInt32
    /// Ignored: the session names the algorithm.
    public var algorithm: UInt32
    public var sessionID: UInt64
    /// Ignored: only session mode exists without VIRTIO_CRYPTO_F_*_STATELESS_MODE, which is never offered.
    public var flag: UInt32
    public var ivLength: UInt32
    public var sourceLength: UInt32
    public var destinationLength: UInt32
    public var opType: UInt32

    public init(opcode: UInt32, sessionID: UInt64, ivLength: UInt32, sourceLength: UInt32, destinationLength: UInt32,
                opType: UInt32 = CryptoCodes.symOpCipher, algorithm: UInt32 = CipherAlgorithm.aesCBC.rawValue, flag: UInt32 = 0) {
        self.opcode = opcode
        self.algorithm = algorithm
        self.sessionID = sessionID
        self.flag = flag
        self.ivLength = ivLength
        self.sourceLength = sourceLength
        self.destinationLength = destinationLength
        self.opType = opType
    }

    /// The header in the first 72 bytes of `bytes`, or nil if there are fewer.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= Self.size else { return nil }
        self.init(opcode: bytes.loadLE(UInt32.self, at: 0), sessionID: bytes.loadLE(UInt64.self, at: 8),
                  ivLength: bytes.loadLE(UInt32.self, at: 24), sourceLength: bytes.loadLE(UInt32.self, at: 28),
                  destinationLength: bytes.loadLE(UInt32.self, at: 32), opType: bytes.loadLE(UInt32.self, at: 64),
                  algorithm: bytes.loadLE(UInt32.self, at: 4), flag: bytes.loadLE(UInt32.self, at: 16))
    }

    /// The 72 bytes a driver writes.
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size)
        b.storeLE(opcode, at: 0)
        b.storeLE(algorithm, at: 4)
        b.storeLE(sessionID, at: 8)
        b.storeLE(flag, at: 16)
        b.storeLE(ivLength, at: 24)
        b.storeLE(sourceLength, at: 28)
        b.storeLE(destinationLength, at: 32)
        b.storeLE(opType, at: 64)
        return b
    }
}

/// A request checked against its session and its buffers: run the session's cipher over `length`
/// bytes of source after an IV of `ivLength` bytes, into the start of the writable part.
public struct CryptoRequestPlan: Equatable, Sendable {
    public let sessionID: UInt64
    public let ivLength: Int
    public let length: Int

    public init(sessionID: UInt64, ivLength: Int, length: Int) {
        self.sessionID = sessionID
        self.ivLength = ivLength
        self.length = length
    }
}

/// Why a data request was not run; each case ends the request with its `status`.
public enum CryptoRequestRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case headerTooShort(readable: Int)
    case unsupportedOpcode(UInt32)
    case algorithmChaining
    case opType(UInt32)
    case unknownSession(UInt64)
    case wrongDirection(session: CipherDirection, opcode: UInt32)
    case ivLength(UInt32, expected: Int)
    case tooLarge(UInt32)
    case length(UInt32, CipherAlgorithm)
    case destinationShorterThanSource(destination: UInt32, source: UInt32)
    case readableTooShort(needed: Int, readable: Int)
    case writableTooShort(needed: Int, writable: Int)
    case guestMemory(String)
    case cipher(CipherEngineError)

    public var status: CryptoStatus {
        switch self {
        case .unsupportedOpcode, .algorithmChaining: return .notSupported
        case .unknownSession: return .invalidSession
        case .tooLarge: return .noSpace
        case .guestMemory, .cipher: return .error
        default: return .badMessage
        }
    }

    public var description: String {
        switch self {
        case let .headerTooShort(n): return "\(n) device-readable bytes, less than the 72-byte header"
        case let .unsupportedOpcode(o): return "opcode 0x\(String(o, radix: 16)) (only CIPHER_ENCRYPT 0x0 and CIPHER_DECRYPT 0x1)"
        case .algorithmChaining: return "algorithm chaining is not supported"
        case let .opType(t): return "op_type \(t) (only 1, cipher)"
        case let .unknownSession(id): return "no open session \(id)"
        case let .wrongDirection(d, o): return "opcode 0x\(String(o, radix: 16)) on a session that can only \(d)"
        case let .ivLength(n, e): return "iv_len \(n) (the algorithm takes \(e))"
        case let .tooLarge(n): return "src_data_len \(n) over the device's \(CryptoRequest.maxDataLength)"
        case let .length(n, a): return "src_data_len \(n) is not a length \(a) takes"
        case let .destinationShorterThanSource(d, s): return "dst_data_len \(d) shorter than src_data_len \(s)"
        case let .readableTooShort(needed, n): return "header, IV and source need \(needed) device-readable bytes, the chain has \(n)"
        case let .writableTooShort(needed, n): return "destination and status need \(needed) device-writable bytes, the chain has \(n)"
        case let .guestMemory(e): return "guest memory: \(e)"
        case let .cipher(e): return "cipher: \(e)"
        }
    }
}

public enum CryptoRequest {
    /// The most source bytes one request may carry: 1 MiB, about a millisecond of AES on one core,
    /// so one request cannot hold the queue thread for long. Linux's skcipher requests (disk
    /// sectors, network packets, AF_ALG pages) are far smaller; a larger one ends with NOSPC.
    public static let maxDataLength = 1 << 20

    /// Checks a request against the session `lookup` finds (its algorithm and direction) and the
    /// chain's byte counts; `writable` includes the status byte. Pure, so it is fuzzed alone.
    public static func plan(_ header: CryptoRequestHeader, readable: Int, writable: Int,
                            lookup: (UInt64) -> (algorithm: CipherAlgorithm, direction: CipherDirection)?)
        throws(CryptoRequestRefusal) -> CryptoRequestPlan {
        guard readable >= CryptoRequestHeader.size else { throw .headerTooShort(readable: readable) }
        guard header.opcode == CryptoCodes.cipherEncrypt || header.opcode == CryptoCodes.cipherDecrypt else {
            throw .unsupportedOpcode(header.opcode)
        }
        guard header.opType != CryptoCodes.symOpAlgorithmChaining else { throw .algorithmChaining }
        guard header.opType == CryptoCodes.symOpCipher else { throw .opType(header.opType) }
        guard let session = lookup(header.sessionID) else { throw .unknownSession(header.sessionID) }
        guard session.direction.opcode == header.opcode else {
            throw .wrongDirection(session: session.direction, opcode: header.opcode)
        }
        let algorithm = session.algorithm
        guard Int(header.ivLength) == algorithm.ivLength else { throw .ivLength(header.ivLength, expected: algorithm.ivLength) }
        let length = Int(header.sourceLength)
        guard length <= maxDataLength else { throw .tooLarge(header.sourceLength) }
        guard length % algorithm.granule == 0, length >= algorithm.minimumLength else { throw .length(header.sourceLength, algorithm) }
        guard header.destinationLength >= header.sourceLength else {
            throw .destinationShorterThanSource(destination: header.destinationLength, source: header.sourceLength)
        }
        // Every term is below 2^32, so the sums cannot overflow an Int.
        let neededReadable = CryptoRequestHeader.size + algorithm.ivLength + length
        guard readable >= neededReadable else { throw .readableTooShort(needed: neededReadable, readable: readable) }
        let neededWritable = Int(header.destinationLength) + 1
        guard writable >= neededWritable else { throw .writableTooShort(needed: neededWritable, writable: writable) }
        return CryptoRequestPlan(sessionID: header.sessionID, ivLength: algorithm.ivLength, length: length)
    }
}
