#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// One directory entry as READDIR hands it on: its name, inode, type (DT_*) and the offset
/// that resumes reading after it.
public struct FsDirectoryEntry {
    public var name: [UInt8]
    public var inode: UInt64
    public var type: UInt32
    public var nextOffset: UInt64
}

/// Directories (OPENDIR, READDIR, RELEASEDIR) and extended attributes.
extension PassthroughStore {
    public func openDirectory(_ id: UInt64) throws(Errno) -> UInt64 {
        let n = try node(id)
        guard n.type == S_IFDIR else { throw Errno(ENOTDIR, call: "opendir") }
        let fd = try retryingSyscall("open") { Glibc.open(Self.procPath(n.descriptor), O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard let stream = fdopendir(fd) else {
            let error = Errno.current("fdopendir")
            Glibc.close(fd)
            throw error
        }
        return try handles.insert(.directory(stream))
    }

    /// Entries of directory handle `handle` from `offset` (0: the start, else an entry's
    /// `nextOffset`), given to `take` until it returns false (that entry is not consumed).
    public func readDirectory(_ handle: UInt64, from offset: UInt64, _ take: (FsDirectoryEntry) -> Bool) throws(Errno) {
        let stream = try handles.directory(handle)
        if offset == 0 { rewinddir(stream) } else { seekdir(stream, Int(truncatingIfNeeded: offset)) }
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw Errno.current("readdir") }
                return
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            let item = FsDirectoryEntry(name: name, inode: UInt64(entry.pointee.d_ino), type: UInt32(entry.pointee.d_type),
                                        nextOffset: UInt64(bitPattern: Int64(entry.pointee.d_off)))
            guard take(item) else { return }
        }
    }

    public func releaseDirectory(_ handle: UInt64) { handles.remove(handle) }

    // MARK: Extended attributes (regular files and directories)

    /// Runs `body` on a descriptor of node `id` opened for reading its attributes.
    private func withAttributeDescriptor<R>(_ id: UInt64, _ body: (Int32) throws(Errno) -> R) throws(Errno) -> R {
        let n = try node(id)
        guard n.type == S_IFREG || n.type == S_IFDIR else { throw Errno(ENOTSUP, call: "xattr") }
        let fd = try retryingSyscall("open") { Glibc.open(Self.procPath(n.descriptor), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) }
        defer { Glibc.close(fd) }
        return try body(fd)
    }

    /// The value of `name` (size 0: only its size).
    public func getAttribute(_ id: UInt64, _ name: [UInt8], size: Int) throws(Errno) -> (size: Int, value: [UInt8]) {
        let key = String(decoding: name, as: UTF8.self)
        return try withAttributeDescriptor(id) { (fd) throws(Errno) in
            var value = [UInt8](repeating: 0, count: size)
            let n = try value.withMutableBytes { (b) throws(Errno) -> Int in
                try retryingSyscall("fgetxattr") { avp_fgetxattr(fd, key, size == 0 ? nil : b.baseAddress, size) }
            }
            return (n, size == 0 ? [] : Array(value.prefix(n)))
        }
    }

    public func listAttributes(_ id: UInt64, size: Int) throws(Errno) -> (size: Int, names: [UInt8]) {
        try withAttributeDescriptor(id) { (fd) throws(Errno) in
            var names = [UInt8](repeating: 0, count: size)
            let n = try names.withMutableBytes { (b) throws(Errno) -> Int in
                try retryingSyscall("flistxattr") { avp_flistxattr(fd, size == 0 ? nil : b.baseAddress?.assumingMemoryBound(to: CChar.self), size) }
            }
            return (n, size == 0 ? [] : Array(names.prefix(n)))
        }
    }

    public func setAttribute(_ id: UInt64, _ name: [UInt8], value: [UInt8], flags: UInt32) throws(Errno) {
        try writable()
        let key = String(decoding: name, as: UTF8.self)
        try withAttributeDescriptor(id) { (fd) throws(Errno) in
            _ = try value.withBytes { (b) throws(Errno) -> Int32 in
                try retryingSyscall("fsetxattr") { avp_fsetxattr(fd, key, b.baseAddress, b.count, Int32(bitPattern: flags)) }
            }
        }
    }

    public func removeAttribute(_ id: UInt64, _ name: [UInt8]) throws(Errno) {
        try writable()
        let key = String(decoding: name, as: UTF8.self)
        try withAttributeDescriptor(id) { (fd) throws(Errno) in _ = try retryingSyscall("fremovexattr") { avp_fremovexattr(fd, key) } }
    }
}
