/// The status a crypto request ends with: the one byte of `virtio_crypto_inhdr` the device
/// writes last (VIRTIO 1.2 §5.9.7.2). Linux turns OK into success, BADMSG into -EBADMSG,
/// INVSESS and ERR into -EINVAL and the rest into -EIO.
public enum CryptoStatus: UInt8, Sendable, CustomStringConvertible {
    case ok = 0
    /// Any failure the others do not name: the cipher itself failed, guest memory could not be read.
    case error = 1
    /// A request that contradicts itself or its buffers (lengths, IV, the session's direction).
    case badMessage = 2
    /// An operation or algorithm the device does not implement.
    case notSupported = 3
    /// No open session has the request's id.
    case invalidSession = 4
    /// The request is larger than the device takes (`CryptoRequest.maxDataLength`).
    case noSpace = 5
    case keyRejected = 6

    public var description: String {
        switch self {
        case .ok: return "OK"
        case .error: return "ERR"
        case .badMessage: return "BADMSG"
        case .notSupported: return "NOTSUPP"
        case .invalidSession: return "INVSESS"
        case .noSpace: return "NOSPC"
        case .keyRejected: return "KEY_REJECTED"
        }
    }
}

/// Numbers of VIRTIO 1.2 §5.9 the crypto device reads.
public enum CryptoCodes {
    /// Data request opcodes (§5.9.7.2.1, VIRTIO_CRYPTO_OPCODE(service CIPHER = 0, op)).
    public static let cipherEncrypt: UInt32 = 0x0000
    public static let cipherDecrypt: UInt32 = 0x0001
    /// Control queue opcodes that create a session (§5.9.7.2), as QEMU 8+ passes them in `op_code`.
    public static let cipherCreateSession: UInt64 = 0x02
    public static let hashCreateSession: UInt64 = 0x102
    public static let macCreateSession: UInt64 = 0x202
    public static let aeadCreateSession: UInt64 = 0x302
    public static let akcipherCreateSession: UInt64 = 0x402
    /// Symmetric operation types (VIRTIO_CRYPTO_SYM_OP_*), in a session and in a request.
    public static let symOpNone: UInt32 = 0
    public static let symOpCipher: UInt32 = 1
    public static let symOpAlgorithmChaining: UInt32 = 2
}

/// Which way a cipher session goes (VIRTIO_CRYPTO_OP_ENCRYPT / _DECRYPT, §5.9.7.2.1.1).
public enum CipherDirection: UInt8, Sendable, CustomStringConvertible {
    case encrypt = 1
    case decrypt = 2

    /// The data request opcode that goes with it.
    public var opcode: UInt32 { self == .encrypt ? CryptoCodes.cipherEncrypt : CryptoCodes.cipherDecrypt }
    public var description: String { self == .encrypt ? "encrypt" : "decrypt" }
}

/// The cipher algorithms (VIRTIO_CRYPTO_CIPHER_*, §5.9.7.2.1.1) the device keys. QEMU's
/// virtio-crypto advertises only AES-CBC in its configuration space (`cipher_algo_l`), so a
/// Linux guest uses AES-CBC alone; AES-CTR and AES-XTS work for a driver that asks anyway.
public enum CipherAlgorithm: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case aesCBC = 3
    case aesCTR = 4
    case aesXTS = 13

    /// Key lengths in bytes (XTS: two AES keys).
    public var keyLengths: Set<Int> { self == .aesXTS ? [32, 64] : [16, 24, 32] }
    /// Bytes of IV a request carries: one AES block (XTS: the tweak).
    public var ivLength: Int { 16 }
    /// Lengths must be a multiple of this (1: a stream mode takes any length).
    public var granule: Int { self == .aesCTR ? 1 : 16 }
    /// The shortest request (XTS needs one block; zero bytes are fine for the others).
    public var minimumLength: Int { self == .aesXTS ? 16 : 0 }

    public var description: String {
        switch self {
        case .aesCBC: return "AES-CBC"
        case .aesCTR: return "AES-CTR"
        case .aesXTS: return "AES-XTS"
        }
    }
}
