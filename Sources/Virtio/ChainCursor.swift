import GuestMemory
import SystemCalls

/// A position in a list of guest slices, advancing across slice boundaries:
/// the shared walk behind `ChainReader` and `ChainWriter`.
struct ChainCursor: Sendable {
    let segments: [GuestSlice]
    private(set) var segment = 0
    private(set) var offset = 0
    private(set) var consumed = 0
    let total: Int

    init(segments: [GuestSlice]) {
        self.segments = segments
        total = segments.reduce(0) { $0 + $1.count }
    }

    var remaining: Int { total - consumed }

    /// Calls `body` for successive pieces of the next `count` bytes (each inside one slice,
    /// with the number of bytes already handed out) and advances past them.
    mutating func advance(_ count: Int, _ body: (GuestSlice, Int) throws(GuestMemoryError) -> Void) throws(GuestMemoryError) {
        guard count <= remaining else {
            throw .sliceOverrun(offset: consumed, length: count, sliceLength: total)
        }
        var done = 0
        while done < count {
            let slice = segments[segment]
            let take = min(count - done, slice.count - offset)
            if take > 0 {
                try body(try slice.subslice(at: offset, count: take), done)
            }
            offset += take
            done += take
            if offset == slice.count {
                segment += 1
                offset = 0
            }
        }
        consumed += count
    }
}

/// The device-readable part of a chain as one byte stream, however the driver split it.
public struct ChainReader: Sendable {
    private var cursor: ChainCursor

    public init(segments: [GuestSlice]) { cursor = ChainCursor(segments: segments) }

    /// Bytes not yet read.
    public var remaining: Int { cursor.remaining }

    public mutating func read(into destination: UnsafeMutableRawBufferPointer) throws(GuestMemoryError) {
        try cursor.advance(destination.count) { (piece, done) throws(GuestMemoryError) in
            try piece.read(into: UnsafeMutableRawBufferPointer(rebasing: destination[done..<(done + piece.count)]), from: 0)
        }
    }

    public mutating func readBytes(_ count: Int) throws(GuestMemoryError) -> [UInt8] {
        guard count <= remaining else { throw .sliceOverrun(offset: 0, length: count, sliceLength: remaining) }
        var out = [UInt8](repeating: 0, count: count)
        try out.withMutableBytes { (b) throws(GuestMemoryError) in try read(into: b) }
        return out
    }

    /// Reads a little-endian integer.
    @inlinable
    public mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self) throws(GuestMemoryError) -> T {
        var value = T.zero
        try withUnsafeMutableBytes(of: &value) { (b) throws(GuestMemoryError) in try read(into: b) }
        return T(littleEndian: value)
    }

    public mutating func skip(_ count: Int) throws(GuestMemoryError) {
        try cursor.advance(count) { (_, _) throws(GuestMemoryError) in }
    }

    /// The next `count` bytes as guest slices, without copying (for I/O straight from guest memory).
    public mutating func slices(_ count: Int) throws(GuestMemoryError) -> [GuestSlice] {
        var out: [GuestSlice] = []
        try cursor.advance(count) { (piece, _) throws(GuestMemoryError) in out.append(piece) }
        return out
    }
}

/// The device-writable part of a chain as one byte stream.
public struct ChainWriter: Sendable {
    private var cursor: ChainCursor

    public init(segments: [GuestSlice]) { cursor = ChainCursor(segments: segments) }

    /// Bytes that still fit.
    public var remaining: Int { cursor.remaining }
    /// Bytes written so far: the used length to report.
    public var written: Int { cursor.consumed }

    public mutating func write(_ source: UnsafeRawBufferPointer) throws(GuestMemoryError) {
        try cursor.advance(source.count) { (piece, done) throws(GuestMemoryError) in
            try piece.write(UnsafeRawBufferPointer(rebasing: source[done..<(done + piece.count)]), at: 0)
        }
    }

    public mutating func write(_ bytes: [UInt8]) throws(GuestMemoryError) {
        try bytes.withBytes { (b) throws(GuestMemoryError) in try write(b) }
    }

    /// Writes a little-endian integer.
    @inlinable
    public mutating func write<T: FixedWidthInteger>(_ value: T) throws(GuestMemoryError) {
        var le = value.littleEndian
        try withUnsafeBytes(of: &le) { (b) throws(GuestMemoryError) in try write(b) }
    }

    /// The next `count` bytes as guest slices the caller fills in place (counted as written).
    public mutating func slices(_ count: Int) throws(GuestMemoryError) -> [GuestSlice] {
        var out: [GuestSlice] = []
        try cursor.advance(count) { (piece, _) throws(GuestMemoryError) in out.append(piece) }
        return out
    }
}
