#if canImport(Glibc)
import Glibc
#endif

/// `struct fuse_attr` (88 bytes), a node's attributes in LOOKUP, GETATTR, SETATTR, create and
/// READDIRPLUS replies (Linux `include/uapi/linux/fuse.h`). A Linux guest refuses (EIO) attributes
/// whose `mode` lacks a valid S_IFMT type or whose `size` exceeds Int64.max (`fuse_invalid_attr`).
public struct FuseAttributes: Sendable, Equatable {
    public var ino: UInt64
    public var size: UInt64
    /// 512-byte blocks allocated.
    public var blocks: UInt64
    public var atime: FuseTime
    public var mtime: FuseTime
    public var ctime: FuseTime
    /// Type (S_IFMT) and permission bits.
    public var mode: UInt32
    public var nlink: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// The device number in Linux's `new_encode_dev` form (see `encodeDevice`).
    public var rdev: UInt32
    /// 0: the guest uses its superblock's block size.
    public var blksize: UInt32
    /// FUSE_ATTR_* (`submount`, `dax`).
    public var flags: UInt32

    /// FUSE_ATTR_SUBMOUNT: the directory is the root of another host file system.
    public static let submount: UInt32 = 1 << 0
    /// FUSE_ATTR_DAX: per-inode DAX.
    public static let dax: UInt32 = 1 << 1

    public static let size = 88

    public init(ino: UInt64, size: UInt64 = 0, blocks: UInt64 = 0, atime: FuseTime = FuseTime(seconds: 0, nanoseconds: 0),
                mtime: FuseTime = FuseTime(seconds: 0, nanoseconds: 0), ctime: FuseTime = FuseTime(seconds: 0, nanoseconds: 0),
                mode: UInt32, nlink: UInt32 = 1, uid: UInt32 = 0, gid: UInt32 = 0, rdev: UInt32 = 0, blksize: UInt32 = 0,
                flags: UInt32 = 0) {
        self.ino = ino
        self.size = size
        self.blocks = blocks
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.mode = mode
        self.nlink = nlink
        self.uid = uid
        self.gid = gid
        self.rdev = rdev
        self.blksize = blksize
        self.flags = flags
    }

    /// The DT_* type of a directory entry with this mode: `(mode & S_IFMT) >> 12`.
    public static func directoryType(mode: UInt32) -> UInt32 { (mode & 0o170000) >> 12 }

    /// Linux `new_encode_dev`: minor bits 0–7, major bits 8–19, the rest of minor from bit 20.
    public static func encodeDevice(major: UInt32, minor: UInt32) -> UInt32 {
        (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
    }

    /// The 88 bytes of `fuse_attr`.
    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        append(to: &w)
        return w.bytes
    }

    func append(to w: inout LittleEndianWriter) {
        w.write(ino); w.write(size); w.write(blocks)
        w.write(atime.seconds); w.write(mtime.seconds); w.write(ctime.seconds)
        w.write(atime.nanoseconds); w.write(mtime.nanoseconds); w.write(ctime.nanoseconds)
        w.write(mode); w.write(nlink); w.write(uid); w.write(gid); w.write(rdev); w.write(blksize); w.write(flags)
    }
}

#if canImport(Glibc)
extension FuseAttributes {
    /// The attributes of a host `stat`, as a passthrough server reports them: `ino` is the host's
    /// inode number (the caller may replace it), `rdev` re-encoded for the guest, `nlink` clamped.
    public init(stat s: stat) {
        // glibc's dev_t: major in bits 8–19 and 32–43, minor in bits 0–7 and 20–31.
        let dev = UInt64(s.st_rdev)
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
        func time(_ t: timespec) -> FuseTime {
            FuseTime(seconds: UInt64(bitPattern: Int64(t.tv_sec)), nanoseconds: UInt32(truncatingIfNeeded: t.tv_nsec))
        }
        self.init(ino: UInt64(s.st_ino), size: UInt64(max(0, Int64(s.st_size))), blocks: UInt64(max(0, Int64(s.st_blocks))),
                  atime: time(s.st_atim), mtime: time(s.st_mtim), ctime: time(s.st_ctim), mode: UInt32(s.st_mode),
                  nlink: UInt32(clamping: UInt64(s.st_nlink)), uid: s.st_uid, gid: s.st_gid,
                  rdev: Self.encodeDevice(major: major, minor: minor), blksize: UInt32(clamping: Int64(s.st_blksize)))
    }
}
#endif
