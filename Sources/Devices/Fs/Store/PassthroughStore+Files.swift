#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// Files: opening, I/O on handles, attributes, links' targets, the share's statistics.
extension PassthroughStore {
    /// Open flags a guest may pass: access mode, append, truncation, sync. Never O_CREAT (CREATE
    /// does that by name), AVP_O_PATH, O_NOFOLLOW-less magic, O_TMPFILE or O_NOCTTY. Not O_DIRECT:
    /// the server's buffers are not aligned for the host file (writes failed with EINVAL); the
    /// guest still bypasses its own page cache, the host's serves the server (virtiofsd's default).
    static let openFlags: Int32 = O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NONBLOCK | AVP_O_NOATIME | AVP_O_LARGEFILE

    static func wantsWrite(_ flags: Int32) -> Bool { flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0 }

    /// OPEN: a handle to node `id` for I/O (regular files only; directories use OPENDIR).
    public func open(_ id: UInt64, flags: UInt32, killSuidgid: Bool = false) throws(Errno) -> UInt64 {
        let n = try node(id)
        let f = Int32(bitPattern: flags) & Self.openFlags & ~AVP_O_NOATIME
        if Self.wantsWrite(f) { try writable() }
        guard n.type == S_IFREG else { throw Errno(n.type == S_IFDIR ? EISDIR : (n.type == S_IFLNK ? ELOOP : EACCES), call: "open") }
        let fd = try retryingSyscall("open") { Glibc.open(Self.procPath(n.descriptor), f | O_CLOEXEC | O_NOCTTY) }
        let file = FileDescriptor(adopting: fd)
        if killSuidgid, f & O_TRUNC != 0 { Self.dropSetID(file) }
        return try handles.insert(.file(file))
    }

    /// CREATE: a new regular file `name` in `parent`, opened; its node (one lookup) and handle.
    public func create(_ parent: UInt64, _ name: [UInt8], flags: UInt32, mode: mode_t,
                       owner: (uid_t, gid_t), killSuidgid: Bool = false) throws(Errno) -> (node: UInt64, stat: stat, handle: UInt64) {
        try writable()
        let dir = try directory(parent)
        let f = Int32(bitPattern: flags) & (Self.openFlags | O_EXCL) & ~AVP_O_NOATIME
        // Whether the name was there before: only with limits (a new file takes an inode) or a truncation
        // that must clear set-ID bits (only an existing file is truncated).
        let truncates = killSuidgid && f & O_TRUNC != 0
        let existed = (usage != nil || truncates) && Self.stat(of: name, in: dir.rawValue) != nil
        if !existed { try needInode() }
        let fd = try Self.withName(name) { (n) throws(Errno) in
            try retryingSyscall("openat") { openat(dir.rawValue, n, f | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode & 0o7777) }
        }
        let file = FileDescriptor(adopting: fd)
        if truncates, existed { Self.dropSetID(file) }
        let handle = try handles.insert(.file(file))
        do {
            let (id, _) = try lookup(parent, name)
            let n = try node(id)
            _ = fchownat(n.descriptor.rawValue, "", owner.0, owner.1, AVP_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
            let st = try Self.stat(of: n.descriptor)
            if !existed { usage?.made(st) }
            return (id, st, handle)
        } catch {
            handles.remove(handle)
            throw error
        }
    }

    public func read(_ handle: UInt64, offset: UInt64, size: Int) throws(Errno) -> [UInt8] {
        let fd = try handles.file(handle)
        guard offset <= UInt64(Int64.max) else { throw Errno(EINVAL, call: "read") }
        var data = [UInt8](repeating: 0, count: size)
        let n = try data.withMutableBytes { (b) throws(Errno) -> Int in
            try retryingSyscall("pread") { pread(fd.rawValue, b.baseAddress, b.count, off_t(offset)) }
        }
        data.removeLast(size - n)
        return data
    }

    public func write(_ handle: UInt64, offset: UInt64, data: ArraySlice<UInt8>, killSuidgid: Bool = false) throws(Errno) -> Int {
        try writable()
        let fd = try handles.file(handle)
        guard offset <= UInt64(Int64.max) else { throw Errno(EINVAL, call: "write") }
        if killSuidgid { Self.dropSetID(fd) }
        return try charging(fd.rawValue, need: Self.writeNeed(offset: offset, count: data.count)) { () throws(Errno) -> Int in
            try data.withBytes { (b) throws(Errno) -> Int in
                try retryingSyscall("pwrite") { pwrite(fd.rawValue, b.baseAddress, b.count, off_t(offset)) }
            }
        }
    }

    public func release(_ handle: UInt64) { handles.remove(handle) }

    public func fsync(_ handle: UInt64, dataOnly: Bool) throws(Errno) {
        let fd = try handles.file(handle)
        _ = try retryingSyscall("fsync") { dataOnly ? fdatasync(fd.rawValue) : Glibc.fsync(fd.rawValue) }
    }

    public func fallocate(_ handle: UInt64, offset: UInt64, length: UInt64, mode: UInt32) throws(Errno) {
        try writable()
        let fd = try handles.file(handle)
        guard offset <= UInt64(Int64.max), length <= UInt64(Int64.max) else { throw Errno(EINVAL, call: "fallocate") }
        // FALLOC_FL_PUNCH_HOLE (2) and COLLAPSE_RANGE (8) free blocks; the others may allocate all of it.
        let need: UInt64 = mode & 0xA != 0 ? 0 : length
        _ = try charging(fd.rawValue, need: { _, _ in need }) { () throws(Errno) -> Int32 in
            try retryingSyscall("fallocate") { avp_fallocate(fd.rawValue, Int32(bitPattern: mode), off_t(offset), off_t(length)) }
        }
    }

    public func lseek(_ handle: UInt64, offset: UInt64, whence: UInt32) throws(Errno) -> UInt64 {
        let fd = try handles.file(handle)
        guard whence == UInt32(AVP_SEEK_DATA) || whence == UInt32(AVP_SEEK_HOLE), offset <= UInt64(Int64.max) else { throw Errno(EINVAL, call: "lseek") }
        return UInt64(try retryingSyscall("lseek") { Glibc.lseek(fd.rawValue, off_t(offset), Int32(whence)) })
    }

    public func copyFileRange(from input: UInt64, at inputOffset: UInt64, to output: UInt64, at outputOffset: UInt64, length: UInt64) throws(Errno) -> Int {
        try writable()
        let source = try handles.file(input), target = try handles.file(output)
        guard inputOffset <= UInt64(Int64.max), outputOffset <= UInt64(Int64.max) else { throw Errno(EINVAL, call: "copy_file_range") }
        var a = Int64(inputOffset), b = Int64(outputOffset)
        let count = Int(min(length, UInt64(Int32.max)))
        return try charging(target.rawValue, need: Self.writeNeed(offset: outputOffset, count: count)) { () throws(Errno) -> Int in
            try retryingSyscall("copy_file_range") { avp_copy_file_range(source.rawValue, &a, target.rawValue, &b, count) }
        }
    }

    public func syncfs() throws(Errno) {
        let root = try node(FsInodeTable.root).descriptor
        _ = try retryingSyscall("syncfs") { avp_syncfs(root.rawValue) }
    }

    public func readlink(_ id: UInt64) throws(Errno) -> [UInt8] {
        let n = try node(id)
        guard n.type == S_IFLNK else { throw Errno(EINVAL, call: "readlink") }
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let count = try buffer.withMutableBytes { (b) throws(Errno) -> Int in
            try retryingSyscall("readlinkat") { readlinkat(n.descriptor.rawValue, "", b.baseAddress!.assumingMemoryBound(to: CChar.self), b.count) }
        }
        return Array(buffer.prefix(count))
    }

    public func statfs() throws(Errno) -> statvfs {
        var s = statvfs()
        let root = try node(FsInodeTable.root).descriptor
        _ = try retryingSyscall("fstatvfs") { fstatvfs(root.rawValue, &s) }
        return limited(s)
    }

    /// SETATTR: each change asked for, in the order chmod, chown, truncate, times.
    public func setAttributes(_ id: UInt64, mode: mode_t?, owner: (uid_t?, gid_t?), size: UInt64?, handle: UInt64?,
                              times: (access: timespec?, modification: timespec?), killSuidgid: Bool = false) throws(Errno) -> stat {
        let n = try node(id)
        let proc = Self.procPath(n.descriptor)
        if mode != nil || owner.0 != nil || owner.1 != nil || size != nil || times.access != nil || times.modification != nil { try writable() }
        if let mode {
            guard n.type != S_IFLNK else { throw Errno(EOPNOTSUPP, call: "chmod") }
            _ = try retryingSyscall("chmod") { fchmodat(AT_FDCWD, proc, mode & 0o7777, 0) }
        }
        if owner.0 != nil || owner.1 != nil {
            _ = try retryingSyscall("chown") {
                fchownat(n.descriptor.rawValue, "", owner.0 ?? uid_t.max, owner.1 ?? gid_t.max, AVP_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
            }
        }
        if let size {
            guard size <= UInt64(Int64.max) else { throw Errno(EFBIG, call: "truncate") }
            // Growing a file by truncation allocates nothing (a hole); the charge is what it gained or freed.
            let before = usage == nil ? nil : Self.blocks(n.descriptor.rawValue)
            if let handle, let fd = try? handles.file(handle) {
                _ = try retryingSyscall("ftruncate") { ftruncate(fd.rawValue, off_t(size)) }
            } else {
                guard n.type == S_IFREG else { throw Errno(n.type == S_IFDIR ? EISDIR : EINVAL, call: "truncate") }
                _ = try retryingSyscall("truncate") { truncate(proc, off_t(size)) }
            }
            if let before, let after = Self.blocks(n.descriptor.rawValue) { usage?.resized(from: before.blocks, to: after.blocks) }
        }
        if killSuidgid, size != nil || owner.0 != nil || owner.1 != nil { Self.dropSetID(n.descriptor) }
        if times.access != nil || times.modification != nil {
            guard n.type != S_IFLNK else { throw Errno(EOPNOTSUPP, call: "utimens") }
            var pair = [times.access ?? timespec(tv_sec: 0, tv_nsec: AVP_UTIME_OMIT), times.modification ?? timespec(tv_sec: 0, tv_nsec: AVP_UTIME_OMIT)]
            _ = try retryingSyscall("utimensat") { utimensat(AT_FDCWD, proc, &pair, 0) }
        }
        return try Self.stat(of: n.descriptor)
    }
}
