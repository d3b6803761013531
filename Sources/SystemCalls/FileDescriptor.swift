#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// An owned file descriptor: closed exactly once, when the last reference goes away
/// (or earlier through `close()`).
public final class FileDescriptor: @unchecked Sendable, CustomStringConvertible {
    // Written only by close(), which callers use from the owning thread.
    private var fd: Int32

    /// Takes ownership of `rawValue`.
    public init(adopting rawValue: Int32) {
        precondition(rawValue >= 0, "adopting an invalid file descriptor")
        fd = rawValue
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// The descriptor number, valid while this object is alive and not closed.
    public var rawValue: Int32 { fd }

    public var description: String { "fd \(fd)" }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }

    /// Opens a path; `flags` from Glibc (O_RDONLY, O_RDWR, ...). O_CLOEXEC is always added.
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(Errno) -> FileDescriptor {
        let fd = try retryingSyscall("open \(path)") { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(adopting: fd)
    }

    /// Duplicates the descriptor (close-on-exec) so another owner can keep it.
    public func duplicate() throws(Errno) -> FileDescriptor {
        let fd2 = try retryingSyscall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
        return FileDescriptor(adopting: fd2)
    }

    public func setNonBlocking(_ on: Bool = true) throws(Errno) {
        let flags = try retryingSyscall("fcntl(F_GETFL)") { fcntl(fd, F_GETFL) }
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        _ = try retryingSyscall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, wanted) }
    }

    /// Reads up to `buffer.count` bytes; returns 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingSyscall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `buffer`, looping over short writes.
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < buffer.count {
            let n = try retryingSyscall("write") { Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done) }
            if n == 0 { throw Errno(EIO, call: "write") }
            done += n
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws(Errno) {
        try bytes.withBytes { (b) throws(Errno) in try writeAll(b) }
    }

    /// Size of the file (fstat st_size).
    public func size() throws(Errno) -> Int64 {
        var st = stat()
        _ = try retryingSyscall("fstat") { fstat(fd, &st) }
        return Int64(st.st_size)
    }

    public func truncate(to size: Int64) throws(Errno) {
        _ = try retryingSyscall("ftruncate") { ftruncate(fd, off_t(size)) }
    }
}
