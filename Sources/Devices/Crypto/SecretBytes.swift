import CCrypto

/// Key material outside Swift's arrays: one allocation of fixed size that is zeroed with
/// explicit_bzero (a store the compiler may not drop) by `wipe()` and again before it is
/// freed. Never copied: readers borrow the bytes inside a closure.
public final class SecretBytes: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer
    public let count: Int

    /// Copies `bytes` in; the caller wipes its own copy.
    public init(copying bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        if count > 0 { base.copyMemory(from: bytes.baseAddress!, byteCount: count) }
    }

    /// Copies `bytes` in; the caller wipes its own copy if it can.
    public static func copying(_ bytes: ArraySlice<UInt8>) -> SecretBytes {
        bytes.withUnsafeBytes { SecretBytes(copying: $0) }
    }

    deinit {
        wipe()
        base.deallocate()
    }

    /// Zeroes every byte.
    public func wipe() { avp_crypto_cleanse(base, count) }

    /// Scoped read access; the pointer must not escape `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Whether every byte is zero (what `wipe()` leaves), for tests of the wiping.
    public var isZero: Bool { withUnsafeBytes { $0.allSatisfy { $0 == 0 } } }
}
