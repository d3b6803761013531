#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// A bounds-checked window onto guest RAM. Every access checks offset and length
/// against the window and throws instead of trapping; the region stays mapped as
/// long as the slice exists. Values are little-endian, as VIRTIO 1.x requires.
public struct GuestSlice: @unchecked Sendable {
    @usableFromInline let region: MappedRegion
    @usableFromInline let start: UnsafeMutableRawPointer
    public let count: Int
    /// Guest-physical address of the first byte.
    public let guestAddress: GuestAddress

    @usableFromInline
    init(region: MappedRegion, start: UnsafeMutableRawPointer, count: Int, guestAddress: GuestAddress) {
        self.region = region
        self.start = start
        self.count = count
        self.guestAddress = guestAddress
    }

    @inlinable @inline(__always)
    func check(_ offset: Int, _ length: Int) throws(GuestMemoryError) {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw .sliceOverrun(offset: offset, length: length, sliceLength: count)
        }
    }

    /// `count` bytes starting `offset` bytes in.
    @inlinable
    public func subslice(at offset: Int, count length: Int) throws(GuestMemoryError) -> GuestSlice {
        try check(offset, length)
        return GuestSlice(region: region, start: start + offset, count: length,
                          guestAddress: GuestAddress(guestAddress.raw + UInt64(offset)))
    }

    @inlinable
    public func load<T: FixedWidthInteger>(_ type: T.Type = T.self, at offset: Int) throws(GuestMemoryError) -> T {
        try check(offset, MemoryLayout<T>.size)
        return T(littleEndian: (start + offset).loadUnaligned(as: T.self))
    }

    @inlinable
    public func store<T: FixedWidthInteger>(_ value: T, at offset: Int) throws(GuestMemoryError) {
        try check(offset, MemoryLayout<T>.size)
        (start + offset).storeBytes(of: value.littleEndian, as: T.self)
    }

    /// A single-copy-atomic 16-bit load, for ring indices the other side updates concurrently.
    /// The offset must be 2-aligned within guest memory (rings are aligned by VIRTIO 1.2 §2.7).
    @inlinable
    public func loadAtomicUInt16(at offset: Int) throws(GuestMemoryError) -> UInt16 {
        try check(offset, 2)
        return UInt16(littleEndian: avp_load_u16(start + offset))
    }

    @inlinable
    public func storeAtomicUInt16(_ value: UInt16, at offset: Int) throws(GuestMemoryError) {
        try check(offset, 2)
        avp_store_u16(start + offset, value.littleEndian)
    }

    /// Copies `destination.count` bytes from `offset` into `destination`.
    public func read(into destination: UnsafeMutableRawBufferPointer, from offset: Int) throws(GuestMemoryError) {
        try check(offset, destination.count)
        if destination.count > 0 { destination.baseAddress!.copyMemory(from: start + offset, byteCount: destination.count) }
    }

    /// Copies `source` into the slice at `offset`.
    public func write(_ source: UnsafeRawBufferPointer, at offset: Int) throws(GuestMemoryError) {
        try check(offset, source.count)
        if source.count > 0 { (start + offset).copyMemory(from: source.baseAddress!, byteCount: source.count) }
    }

    public func bytes(at offset: Int = 0, count length: Int) throws(GuestMemoryError) -> [UInt8] {
        try check(offset, length)
        return [UInt8](UnsafeRawBufferPointer(start: start + offset, count: length))
    }

    public func write(_ bytes: [UInt8], at offset: Int = 0) throws(GuestMemoryError) {
        try bytes.withBytes { (b) throws(GuestMemoryError) in try write(b, at: offset) }
    }

    /// Sets the whole slice to `byte`.
    public func fill(_ byte: UInt8) {
        if count > 0 { start.initializeMemory(as: UInt8.self, repeating: byte, count: count) }
    }

    /// The slice as an iovec, for handing guest buffers straight to the kernel when the
    /// I/O outlives a closure (readv/writev through io_uring). The pointer is valid only
    /// while this slice — which keeps its mapping alive — is retained by the caller.
    @inlinable
    public var ioVector: iovec { iovec(iov_base: start, iov_len: count) }

    /// Scoped access for I/O straight into or out of guest memory (read(2), getrandom(2)).
    /// The buffer must not escape `body`.
    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: start, count: count))
    }
}
