#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// A failed system call: the errno value and the call that produced it.
public struct Errno: Error, Equatable, CustomStringConvertible, Sendable {
    public let code: Int32
    public let call: String

    public init(_ code: Int32, call: String = "") {
        self.code = code
        self.call = call
    }

    /// The calling thread's current errno.
    public static func current(_ call: String) -> Errno { Errno(avp_errno(), call: call) }

    public var description: String {
        let text = String(cString: strerror(code))
        return call.isEmpty ? "\(text) (errno \(code))" : "\(call): \(text) (errno \(code))"
    }

    public static func == (a: Errno, b: Errno) -> Bool { a.code == b.code }
}

/// Retries a call while it fails with EINTR; converts -1 into a thrown `Errno`.
@inline(__always)
public func retryingSyscall<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(Errno) -> T {
    while true {
        let r = body()
        if r >= 0 { return r }
        let e = avp_errno()
        if e != EINTR { throw Errno(e, call: call) }
    }
}
