#if canImport(Glibc)
import Glibc
#endif

/// A keyed cipher for one session: the request path hands it an IV and the guest's buffers
/// and never sees the library behind it (`OpenSSLCipher` in production).
public protocol CipherEngine: AnyObject {
    /// Enciphers or deciphers (as keyed) `length` bytes gathered from `source` into
    /// `destination`, starting from `iv`. The buffer lists may split the data anywhere; each
    /// holds at least `length` bytes (checked again below the protocol).
    func run(iv: UnsafeRawBufferPointer, source: [iovec], destination: [iovec], length: Int) throws(CipherEngineError)
}

/// Makes the engine for a new session.
public protocol CipherEngineFactory: Sendable {
    func makeEngine(algorithm: CipherAlgorithm, direction: CipherDirection, key: SecretBytes) throws(CipherEngineError) -> CipherEngine
}

/// What went wrong below the request path.
public enum CipherEngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Lengths, IV or key the cipher does not take (the request path checks first; this is the backstop).
    case invalidArguments
    case outOfMemory
    /// The library failed (errno-style code).
    case library(Int32)

    public var description: String {
        switch self {
        case .invalidArguments: return "invalid arguments for the cipher"
        case .outOfMemory: return "out of memory"
        case let .library(code): return "libcrypto failed (\(code))"
        }
    }
}
