import CCrypto
#if canImport(Glibc)
import Glibc
#endif

/// AES from the system's libcrypto (OpenSSL 3) through `CCrypto`: one keyed context per session
/// and direction. After a failed run the context is keyed again from the session's key, since
/// OpenSSL leaves a failed context in no defined state.
public final class OpenSSLCipher: CipherEngine {
    private let context: OpaquePointer
    /// The session's key (the session wipes it on close; this only borrows it to re-key).
    private let key: SecretBytes

    public init(algorithm: CipherAlgorithm, direction: CipherDirection, key: SecretBytes) throws(CipherEngineError) {
        var handle: OpaquePointer?
        let result = key.withUnsafeBytes { k in
            avp_cipher_open(&handle, Self.mode(algorithm), k.baseAddress?.assumingMemoryBound(to: UInt8.self), k.count,
                            direction == .encrypt ? 1 : 0)
        }
        guard result == 0, let handle else { throw Self.error(result) }
        context = handle
        self.key = key
    }

    deinit { avp_cipher_close(context) }

    /// Opens libcrypto's file for the first session to map later (`avp_libcrypto_prepare`): false when
    /// it is not in libc's directory.
    public static func prepareLibrary() -> Bool { avp_libcrypto_prepare() == 0 }

    public func run(iv: UnsafeRawBufferPointer, source: [iovec], destination: [iovec], length: Int) throws(CipherEngineError) {
        guard length >= 0, let ivBase = iv.baseAddress else { throw .invalidArguments }
        let result = source.withUnsafeBufferPointer { s in
            destination.withUnsafeBufferPointer { d in
                avp_cipher_run(context, ivBase.assumingMemoryBound(to: UInt8.self), iv.count,
                               s.baseAddress, s.count, d.baseAddress, d.count, length)
            }
        }
        guard result == 0 else {
            if result != -EINVAL {
                _ = key.withUnsafeBytes { k in avp_cipher_rekey(context, k.baseAddress?.assumingMemoryBound(to: UInt8.self), k.count) }
            }
            throw Self.error(result)
        }
    }

    private static func mode(_ algorithm: CipherAlgorithm) -> Int32 {
        switch algorithm {
        case .aesCBC: return Int32(AVP_CIPHER_AES_CBC.rawValue)
        case .aesCTR: return Int32(AVP_CIPHER_AES_CTR.rawValue)
        case .aesXTS: return Int32(AVP_CIPHER_AES_XTS.rawValue)
        }
    }

    private static func error(_ code: Int32) -> CipherEngineError {
        switch -code {
        case EINVAL: return .invalidArguments
        case ENOMEM: return .outOfMemory
        default: return .library(code)
        }
    }
}

/// Makes `OpenSSLCipher`s: the production factory.
public struct OpenSSLCipherFactory: CipherEngineFactory {
    public init() {}

    public func makeEngine(algorithm: CipherAlgorithm, direction: CipherDirection, key: SecretBytes) throws(CipherEngineError) -> CipherEngine {
        try OpenSSLCipher(algorithm: algorithm, direction: direction, key: key)
    }
}
