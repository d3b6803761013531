#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// The share's size and inode limits ([FsUsage]): checked before a change, charged after it.
/// Without limits none of this runs (no extra system calls).
extension PassthroughStore {
    /// The blocks (`st_blocks`) and size of an open file, or nil.
    static func blocks(_ fd: Int32) -> (blocks: Int, size: Int)? {
        var st = Glibc.stat()
        guard fstatat(fd, "", &st, AVP_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return (st.st_blocks, st.st_size)
    }

    /// Runs a change to open file `fd` that may allocate up to `need` bytes: refused with ENOSPC
    /// when they do not fit, and charged with the blocks the file gained or lost.
    func charging<R>(_ fd: Int32, need: (_ size: Int, _ blocks: Int) -> UInt64, _ body: () throws(Errno) -> R) throws(Errno) -> R {
        guard usage != nil, let before = Self.blocks(fd) else { return try body() }
        try usage!.needBytes(need(before.size, before.blocks))
        defer {
            if let after = Self.blocks(fd) { usage!.resized(from: before.blocks, to: after.blocks) }
        }
        return try body()
    }

    /// What a write of `count` bytes at `offset` may allocate: nothing when it overwrites a part
    /// of the file that has all its blocks, else all of it.
    static func writeNeed(offset: UInt64, count: Int) -> (Int, Int) -> UInt64 {
        { size, blocks in
            let end = offset &+ UInt64(count)
            return end <= UInt64(max(0, size)) && blocks * 512 >= size ? 0 : UInt64(count)
        }
    }

    /// The file `name` in directory `dir` names now, if counting needs it.
    func counted(_ dir: FileDescriptor, _ name: [UInt8]) -> stat? {
        usage == nil ? nil : Self.stat(of: name, in: dir.rawValue)
    }

    /// A name was removed (or replaced) that named `st`: if it was the file's last, it is free.
    func uncount(_ st: stat?) {
        guard let st else { return }
        if st.st_mode & S_IFMT == S_IFDIR || st.st_nlink <= 1 { usage?.removed(st) }
    }

    /// Before making a new file, directory or symlink.
    func needInode() throws(Errno) { try usage?.needInode() }

    /// The share's statistics, shrunk to its limits.
    func limited(_ s: statvfs) -> statvfs { usage?.applied(to: s) ?? s }
}
