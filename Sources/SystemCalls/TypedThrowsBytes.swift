/// `withUnsafeBytes` for byte arrays that keeps a closure's typed error
/// (the standard library's versions rethrow `any Error`).
extension Array where Element == UInt8 {
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withUnsafeBytes { b in result = Result { () throws(E) -> R in try body(b) } }
        return try result!.get()
    }

    @inlinable
    public mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withUnsafeMutableBytes { b in result = Result { () throws(E) -> R in try body(b) } }
        return try result!.get()
    }
}

extension ArraySlice where Element == UInt8 {
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withUnsafeBytes { b in result = Result { () throws(E) -> R in try body(b) } }
        return try result!.get()
    }
}
