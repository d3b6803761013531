#if canImport(Glibc)
import Glibc
#endif
import SystemCalls

/// What an open file handle (FUSE's fh) is: a file opened for I/O, or a directory being read
/// (its descriptor and the C library's stream over it, for `seekdir`/`readdir` with the
/// offsets FUSE hands back).
enum FsHandle {
    case file(FileDescriptor)
    case directory(OpaquePointer)

    func close() {
        switch self {
        case let .file(descriptor): descriptor.close()
        case let .directory(stream): closedir(stream)
        }
    }
}

/// Open handles, bounded like the nodes: a guest that opens without releasing gets EMFILE.
struct FsHandleTable {
    let limit: Int
    private var handles: [UInt64: FsHandle] = [:]
    private var next: UInt64 = 1

    init(limit: Int) { self.limit = limit }

    var count: Int { handles.count }

    mutating func insert(_ handle: FsHandle) throws(Errno) -> UInt64 {
        guard handles.count < limit else {
            handle.close()
            throw Errno(EMFILE, call: "open")
        }
        let id = next
        next += 1
        handles[id] = handle
        return id
    }

    subscript(id: UInt64) -> FsHandle? { handles[id] }

    /// The file descriptor of handle `id`, or EBADF (also for a directory handle).
    func file(_ id: UInt64) throws(Errno) -> FileDescriptor {
        guard case let .file(descriptor)? = handles[id] else { throw Errno(EBADF, call: "handle") }
        return descriptor
    }

    func directory(_ id: UInt64) throws(Errno) -> OpaquePointer {
        guard case let .directory(stream)? = handles[id] else { throw Errno(EBADF, call: "handle") }
        return stream
    }

    mutating func remove(_ id: UInt64) {
        handles.removeValue(forKey: id)?.close()
    }

    mutating func removeAll() {
        for handle in handles.values { handle.close() }
        handles = [:]
    }
}
