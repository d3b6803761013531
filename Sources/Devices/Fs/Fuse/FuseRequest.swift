/// A FUSE request decoded into what it asks for (VIRTIO 1.2 §5.11.6.1; layouts from Linux
/// `include/uapi/linux/fuse.h`). `parse` (FuseRequestParser.swift) is the single parser of a
/// request queue's device-readable bytes: a pure function, unit-tested and fuzzed (fuzz/FuseFuzz.swift).
/// The node the request is about is `FuseInHeader.nodeID` (the parent directory for operations on a
/// name). Names are checked for syntax only ("." and ".." pass): the store decides what they mean.
/// Values are not checked against the session (handles, node IDs, sizes): the file-system device does that.
public enum FuseRequest: Sendable, Equatable {
    /// FUSE_INIT. `flags` is `flags | flags2 << 32` when FUSE_INIT_EXT is set, else `flags` alone.
    case initialize(major: UInt32, minor: UInt32, maxReadahead: UInt32, flags: UInt64)
    case destroy
    case lookup(name: [UInt8])
    /// No reply (the hiprio queue).
    case forget(nlookup: UInt64)
    /// No reply.
    case batchForget([FuseForget])
    /// `handle` when FUSE_GETATTR_FH is set (an open regular file).
    case getattr(handle: UInt64?)
    case setattr(FuseSetattr)
    case readlink
    case symlink(name: [UInt8], target: [UInt8])
    case mknod(name: [UInt8], mode: UInt32, rdev: UInt32, umask: UInt32)
    case mkdir(name: [UInt8], mode: UInt32, umask: UInt32)
    case unlink(name: [UInt8])
    case rmdir(name: [UInt8])
    /// FUSE_RENAME (`flags` 0) and FUSE_RENAME2 (RENAME_NOREPLACE 1, RENAME_EXCHANGE 2, RENAME_WHITEOUT 4).
    case rename(newParent: UInt64, oldName: [UInt8], newName: [UInt8], flags: UInt32)
    /// The new link goes in `FuseInHeader.nodeID`.
    case link(oldNodeID: UInt64, newName: [UInt8])
    /// `flags`: the guest's Linux O_* flags (O_CREAT, O_EXCL and O_NOCTTY stripped by the guest).
    /// `killSuidgid`: FUSE_OPEN_KILL_SUIDGID in `open_flags` (HANDLE_KILLPRIV_V2: an O_TRUNC open by
    /// a caller without CAP_FSETID, so the truncation clears set-user-ID and set-group-ID).
    case open(flags: UInt32, killSuidgid: Bool = false)
    case read(handle: UInt64, offset: UInt64, size: UInt32)
    /// `data`: exactly `fuse_write_in.size` bytes, a slice of the parsed request. `flags`: `write_flags`
    /// (FUSE_WRITE_CACHE 1, FUSE_WRITE_LOCKOWNER 2, FUSE_WRITE_KILL_SUIDGID 4).
    case write(handle: UInt64, offset: UInt64, data: ArraySlice<UInt8>, flags: UInt32)
    case statfs
    /// `flags`: the open flags of the file being released.
    case release(handle: UInt64, flags: UInt32)
    case fsync(handle: UInt64, dataOnly: Bool)
    /// `flags`: XATTR_CREATE 1, XATTR_REPLACE 2.
    case setxattr(name: [UInt8], value: [UInt8], flags: UInt32)
    /// `size` 0 asks for the value's size (FuseXattrSizeReply).
    case getxattr(name: [UInt8], size: UInt32)
    /// `size` 0 asks for the list's size (FuseXattrSizeReply).
    case listxattr(size: UInt32)
    case removexattr(name: [UInt8])
    case flush(handle: UInt64)
    case opendir(flags: UInt32)
    /// FUSE_READDIR (`plus` false) and FUSE_READDIRPLUS: `offset` is 0 or the cookie of the last entry read.
    case readdir(handle: UInt64, offset: UInt64, size: UInt32, plus: Bool)
    case releasedir(handle: UInt64)
    case fsyncdir(handle: UInt64, dataOnly: Bool)
    case access(mask: UInt32)
    /// `killSuidgid`: as for `open`, for an existing file opened with O_TRUNC.
    case create(name: [UInt8], flags: UInt32, mode: UInt32, umask: UInt32, killSuidgid: Bool = false)
    case fallocate(handle: UInt64, offset: UInt64, length: UInt64, mode: UInt32)
    /// `whence`: Linux SEEK_* (SEEK_DATA 3, SEEK_HOLE 4 are what a guest sends).
    case lseek(handle: UInt64, offset: UInt64, whence: UInt32)
    case copyFileRange(handleIn: UInt64, offsetIn: UInt64, nodeOut: UInt64, handleOut: UInt64, offsetOut: UInt64,
                       length: UInt64, flags: UInt64)
    case syncfs
    /// FUSE_INTERRUPT (Linux virtio_fs never sends it); no reply.
    case interrupt
    /// An opcode this server does not serve (locks, ioctl, poll, DAX mappings, tmpfile, statx, ...) or
    /// does not know: the device answers ENOSYS, which a Linux guest remembers for most of them.
    case unsupported(opcode: UInt32)

    /// The longest name accepted (NAME_MAX; also XATTR_NAME_MAX).
    public static let maxNameBytes = 255
    /// The longest symlink target accepted (PATH_MAX less the NUL).
    public static let maxSymlinkTargetBytes = 4095
    /// The most write data a request may carry: the `max_write` this server negotiates.
    public static let maxWriteBytes = 1 << 20
    /// FUSE_OPEN_KILL_SUIDGID in `fuse_open_in.open_flags` / `fuse_create_in.open_flags`.
    public static let openKillSuidgid: UInt32 = 1 << 0
    /// FUSE_WRITE_KILL_SUIDGID in `fuse_write_in.write_flags`.
    public static let writeKillSuidgid: UInt32 = 1 << 2
    /// The largest request accepted: the header, 1 MiB of write data and a page for the arguments.
    public static let maxRequestBytes = FuseInHeader.size + maxWriteBytes + 4096

    /// Whether the guest expects a reply: every request except FORGET, BATCH_FORGET and INTERRUPT.
    public var expectsReply: Bool {
        switch self {
        case .forget, .batchForget, .interrupt: false
        default: true
        }
    }
}

/// One `struct fuse_forget_one` of a BATCH_FORGET.
public struct FuseForget: Sendable, Equatable {
    public var nodeID: UInt64
    public var nlookup: UInt64

    public init(nodeID: UInt64, nlookup: UInt64) {
        self.nodeID = nodeID
        self.nlookup = nlookup
    }
}

/// A timestamp as FUSE carries it: seconds since the epoch (two's complement for times before it) and nanoseconds.
public struct FuseTime: Sendable, Equatable {
    public var seconds: UInt64
    public var nanoseconds: UInt32

    public init(seconds: UInt64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

/// What a SETATTR sets a timestamp to.
public enum FuseTimeUpdate: Sendable, Equatable {
    /// FATTR_ATIME_NOW / FATTR_MTIME_NOW: the host's current time (UTIME_NOW).
    case now
    case time(FuseTime)
}

/// `struct fuse_setattr_in` with its `valid` bits (FATTR_*) decoded: a field is nil when not to be changed.
public struct FuseSetattr: Sendable, Equatable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: UInt64?
    public var atime: FuseTimeUpdate?
    public var mtime: FuseTimeUpdate?
    /// FATTR_CTIME (sent by a guest with the writeback cache only).
    public var ctime: FuseTime?
    /// FATTR_FH: the file was changed through this open handle (ftruncate, fchmod, ...).
    public var handle: UInt64?
    /// FATTR_LOCKOWNER.
    public var lockOwner: UInt64?
    /// FATTR_KILL_SUIDGID (only with HANDLE_KILLPRIV_V2).
    public var killSuidgid: Bool

    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: UInt64? = nil,
                atime: FuseTimeUpdate? = nil, mtime: FuseTimeUpdate? = nil, ctime: FuseTime? = nil,
                handle: UInt64? = nil, lockOwner: UInt64? = nil, killSuidgid: Bool = false) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.handle = handle
        self.lockOwner = lockOwner
        self.killSuidgid = killSuidgid
    }

    /// FATTR_* bits of `fuse_setattr_in.valid`.
    public enum Valid {
        public static let mode: UInt32 = 1 << 0
        public static let uid: UInt32 = 1 << 1
        public static let gid: UInt32 = 1 << 2
        public static let size: UInt32 = 1 << 3
        public static let atime: UInt32 = 1 << 4
        public static let mtime: UInt32 = 1 << 5
        public static let handle: UInt32 = 1 << 6
        public static let atimeNow: UInt32 = 1 << 7
        public static let mtimeNow: UInt32 = 1 << 8
        public static let lockOwner: UInt32 = 1 << 9
        public static let ctime: UInt32 = 1 << 10
        public static let killSuidgid: UInt32 = 1 << 11
    }

    /// The size of `struct fuse_setattr_in`.
    public static let size = 88

    /// Decodes the 88 bytes of `fuse_setattr_in`: 0 valid, 8 fh, 16 size, 24 lock_owner, 32/40/48
    /// atime/mtime/ctime, 56/60/64 their nanoseconds, 68 mode, 76 uid, 80 gid.
    init(_ r: inout FuseArgumentReader) {
        let valid = r.u32()
        _ = r.u32()
        let fh = r.u64(), size = r.u64(), lockOwner = r.u64()
        let atime = r.u64(), mtime = r.u64(), ctime = r.u64()
        let atimeNanoseconds = r.u32(), mtimeNanoseconds = r.u32(), ctimeNanoseconds = r.u32()
        let mode = r.u32()
        _ = r.u32()
        let uid = r.u32(), gid = r.u32()
        _ = r.u32()
        func has(_ bit: UInt32) -> Bool { valid & bit != 0 }
        func update(_ bit: UInt32, now: UInt32, _ seconds: UInt64, _ nanoseconds: UInt32) -> FuseTimeUpdate? {
            if has(now) { return .now }
            return has(bit) ? .time(FuseTime(seconds: seconds, nanoseconds: nanoseconds)) : nil
        }
        self.init(mode: has(Valid.mode) ? mode : nil, uid: has(Valid.uid) ? uid : nil, gid: has(Valid.gid) ? gid : nil,
                  size: has(Valid.size) ? size : nil,
                  atime: update(Valid.atime, now: Valid.atimeNow, atime, atimeNanoseconds),
                  mtime: update(Valid.mtime, now: Valid.mtimeNow, mtime, mtimeNanoseconds),
                  ctime: has(Valid.ctime) ? FuseTime(seconds: ctime, nanoseconds: ctimeNanoseconds) : nil,
                  handle: has(Valid.handle) ? fh : nil, lockOwner: has(Valid.lockOwner) ? lockOwner : nil,
                  killSuidgid: has(Valid.killSuidgid))
    }
}
