#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// What a share holds, against its [FsShareLimits]: bytes as allocated blocks (`st_blocks`,
/// so sparse files count what they use) and inodes. Counted once by walking the share when the
/// server starts, then kept by the server as the guest changes it: a change that could go over
/// a limit is refused with ENOSPC before it is made (a write is allowed while the share has room
/// for all of it), and each change is charged afterwards with what the file really took. Changes
/// made on the host meanwhile are not seen until the next start; a file the guest deletes while
/// it is still open counts as freed at once.
struct FsUsage {
    let limits: FsShareLimits
    private(set) var bytes: UInt64 = 0
    private(set) var inodes: UInt64 = 0

    /// Walks the directory `root` (not following symlinks, each hard-linked file once, no other
    /// mounts: their `st_dev` differs), through at most `maxDepth` levels.
    init(limits: FsShareLimits, root: FileDescriptor, maxDepth: Int = 256) {
        self.limits = limits
        var seen = Set<FsInodeTable.FileKey>()
        var st = Glibc.stat()
        guard fstatat(root.rawValue, "", &st, AVP_AT_EMPTY_PATH) == 0 else { return }
        let device = st.st_dev
        add(st)
        let fd = Glibc.open("/proc/self/fd/\(root.rawValue)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { walk(fd, device: device, depth: maxDepth, seen: &seen) }
    }

    private mutating func add(_ st: stat) {
        bytes &+= UInt64(max(0, st.st_blocks)) &* 512
        inodes &+= 1
    }

    /// Counts the entries of directory `fd` (which it closes) and everything below.
    private mutating func walk(_ fd: Int32, device: dev_t, depth: Int, seen: inout Set<FsInodeTable.FileKey>) {
        guard let dir = fdopendir(fd) else { Glibc.close(fd); return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            guard let st = PassthroughStore.stat(of: name, in: dirfd(dir)), st.st_dev == device else { continue }
            if st.st_nlink > 1, st.st_mode & S_IFMT != S_IFDIR {
                guard seen.insert(FsInodeTable.FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))).inserted else { continue }
            }
            add(st)
            if st.st_mode & S_IFMT == S_IFDIR, depth > 0 {
                let child = try? PassthroughStore.withName(name) { (n) throws(Errno) -> Int32 in
                    openat(dirfd(dir), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                if let child, child >= 0 { walk(child, device: device, depth: depth - 1, seen: &seen) }
            }
        }
    }

    /// Before making a file, directory or link: ENOSPC when no inode is left.
    func needInode() throws(Errno) {
        if let limit = limits.inodes, inodes >= limit { throw Errno(ENOSPC, call: "inode limit") }
    }

    /// Before a change that may allocate up to `count` bytes: ENOSPC when they would not fit.
    func needBytes(_ count: UInt64) throws(Errno) {
        if let limit = limits.bytes, count > 0, bytes &+ count > limit { throw Errno(ENOSPC, call: "size limit") }
    }

    /// A file made (its blocks as made).
    mutating func made(_ st: stat) { add(st) }

    /// The last name of a file removed: it and its blocks are free.
    mutating func removed(_ st: stat) {
        bytes -= min(bytes, UInt64(max(0, st.st_blocks)) * 512)
        inodes -= min(inodes, 1)
    }

    /// A file's blocks went from `before` to `after` (st_blocks, 512-byte units).
    mutating func resized(from before: Int, to after: Int) {
        let delta = (after - before) * 512
        bytes = delta >= 0 ? bytes &+ UInt64(delta) : bytes - min(bytes, UInt64(-delta))
    }

    /// The share's statistics as the guest sees them: a file system the size of the limits.
    func applied(to s: statvfs) -> statvfs {
        var s = s
        if let limit = limits.bytes {
            let unit = UInt64(max(1, s.f_frsize))
            let total = limit / unit, used = min(total, (bytes + unit - 1) / unit)
            s.f_blocks = fsblkcnt_t(total)
            s.f_bfree = fsblkcnt_t(min(UInt64(s.f_bfree), total - used))
            s.f_bavail = fsblkcnt_t(min(UInt64(s.f_bavail), total - used))
        }
        if let limit = limits.inodes {
            let free = limit - min(limit, inodes)
            s.f_files = fsfilcnt_t(limit)
            s.f_ffree = fsfilcnt_t(min(UInt64(s.f_ffree), free))
            s.f_favail = fsfilcnt_t(min(UInt64(s.f_favail), free))
        }
        return s
    }
}
