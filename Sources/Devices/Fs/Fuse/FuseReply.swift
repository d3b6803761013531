/// Encoders of the device-writable part of a FUSE reply: `fuse_out_header` and the payload
/// (Linux `include/uapi/linux/fuse.h`). A Linux virtio-fs guest takes the payload's size from the
/// header's `len`, not from the used length (`fs/fuse/virtio_fs.c`), so `len` must be exact.
/// FORGET, BATCH_FORGET and INTERRUPT get no reply at all.
public enum FuseReply {
    /// The largest errno a reply may carry: /dev/fuse refuses `error` outside (-512, 0].
    public static let maxErrno: Int32 = 511
    /// Linux EIO, sent in place of an errno out of range.
    public static let eio: Int32 = 5

    /// An error reply: the out header alone, `len` 16, `error` = -errno. `errno` is a Linux errno
    /// (1...511); anything else is sent as EIO.
    public static func error(unique: UInt64, errno: Int32) -> [UInt8] {
        let value = (1...maxErrno).contains(errno) ? errno : eio
        return FuseOutHeader(length: UInt32(FuseOutHeader.size), error: -value, unique: unique).bytes
    }

    /// A success reply: the out header (`len` = 16 + payload) and the payload.
    public static func ok(unique: UInt64, _ payload: [UInt8] = []) -> [UInt8] {
        FuseOutHeader(length: UInt32(FuseOutHeader.size + payload.count), error: 0, unique: unique).bytes + payload
    }
}

/// `struct fuse_entry_out` (128 bytes): the reply to LOOKUP, MKNOD, MKDIR, SYMLINK and LINK (and the
/// first part of CREATE's and of a READDIRPLUS record). Each one with `nodeID` ≠ 0 counts one lookup
/// the guest later returns with FORGET. `nodeID` 0 in a LOOKUP reply is a negative entry cached for
/// the entry timeout; in READDIRPLUS it means "no entry information".
public struct FuseEntry: Sendable, Equatable {
    public var nodeID: UInt64
    /// Together with `nodeID`, unique for the file system's lifetime; 0 for the root.
    public var generation: UInt64
    public var entryValidSeconds: UInt64
    public var entryValidNanoseconds: UInt32
    public var attrValidSeconds: UInt64
    public var attrValidNanoseconds: UInt32
    public var attributes: FuseAttributes

    public static let size = 128

    /// Both timeouts default to 1 second (virtiofsd's `cache=auto`).
    public init(nodeID: UInt64, generation: UInt64 = 0, entryValidSeconds: UInt64 = 1, entryValidNanoseconds: UInt32 = 0,
                attrValidSeconds: UInt64 = 1, attrValidNanoseconds: UInt32 = 0, attributes: FuseAttributes) {
        self.nodeID = nodeID
        self.generation = generation
        self.entryValidSeconds = entryValidSeconds
        self.entryValidNanoseconds = entryValidNanoseconds
        self.attrValidSeconds = attrValidSeconds
        self.attrValidNanoseconds = attrValidNanoseconds
        self.attributes = attributes
    }

    /// A negative entry: "no such name", cached by the guest for `validSeconds`.
    public static func negative(validSeconds: UInt64) -> FuseEntry {
        var entry = none
        entry.entryValidSeconds = validSeconds
        return entry
    }

    /// All zero: node ID 0, no timeouts, no attributes (a READDIRPLUS record without entry information).
    public static let none = FuseEntry(nodeID: 0, entryValidSeconds: 0, attrValidSeconds: 0,
                                       attributes: FuseAttributes(ino: 0, mode: 0, nlink: 0))

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        append(to: &w)
        return w.bytes
    }

    func append(to w: inout LittleEndianWriter) {
        w.write(nodeID); w.write(generation); w.write(entryValidSeconds); w.write(attrValidSeconds)
        w.write(entryValidNanoseconds); w.write(attrValidNanoseconds)
        attributes.append(to: &w)
    }
}

/// `struct fuse_attr_out` (104 bytes): the reply to GETATTR and SETATTR.
public struct FuseAttrReply: Sendable, Equatable {
    public var validSeconds: UInt64
    public var validNanoseconds: UInt32
    public var attributes: FuseAttributes

    public static let size = 104

    public init(validSeconds: UInt64 = 1, validNanoseconds: UInt32 = 0, attributes: FuseAttributes) {
        self.validSeconds = validSeconds
        self.validNanoseconds = validNanoseconds
        self.attributes = attributes
    }

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(validSeconds); w.write(validNanoseconds); w.write(UInt32(0))
        attributes.append(to: &w)
        return w.bytes
    }
}

/// `struct fuse_open_out` (16 bytes): the reply to OPEN and OPENDIR.
public struct FuseOpenReply: Sendable, Equatable {
    public var handle: UInt64
    /// FOPEN_* (`FuseOpenReply.directIO`, ...).
    public var flags: UInt32

    public static let size = 16

    /// FOPEN_DIRECT_IO: bypass the guest's page cache for this open file.
    public static let directIO: UInt32 = 1 << 0
    /// FOPEN_KEEP_CACHE: keep the page cache from before this open.
    public static let keepCache: UInt32 = 1 << 1
    public static let nonseekable: UInt32 = 1 << 2
    /// FOPEN_CACHE_DIR: the guest may cache this directory's entries.
    public static let cacheDirectory: UInt32 = 1 << 3
    public static let stream: UInt32 = 1 << 4
    /// FOPEN_NOFLUSH: no FLUSH on close.
    public static let noFlush: UInt32 = 1 << 5
    public static let parallelDirectWrites: UInt32 = 1 << 6
    public static let passthrough: UInt32 = 1 << 7

    public init(handle: UInt64, flags: UInt32 = 0) {
        self.handle = handle
        self.flags = flags
    }

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(handle); w.write(flags); w.write(UInt32(0))
        return w.bytes
    }
}

/// The reply to CREATE (144 bytes): `fuse_entry_out` then `fuse_open_out`.
public struct FuseCreateReply: Sendable, Equatable {
    public var entry: FuseEntry
    public var open: FuseOpenReply

    public static let size = FuseEntry.size + FuseOpenReply.size

    public init(entry: FuseEntry, open: FuseOpenReply) {
        self.entry = entry
        self.open = open
    }

    public var bytes: [UInt8] { entry.bytes + open.bytes }
}

/// `struct fuse_write_out` and `struct fuse_getxattr_out`, one layout (8 bytes: a 32-bit size,
/// then padding): the reply to WRITE and COPY_FILE_RANGE (bytes written; a Linux guest takes more
/// than it asked for as EIO), and to GETXATTR and LISTXATTR asked with size 0 (the size needed).
public struct FuseSizeReply: Sendable, Equatable {
    public var size: UInt32

    public static let size = 8

    public init(size: UInt32) { self.size = size }

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(size); w.write(UInt32(0))
        return w.bytes
    }
}

public typealias FuseWriteReply = FuseSizeReply
public typealias FuseXattrSizeReply = FuseSizeReply

/// `struct fuse_lseek_out` (8 bytes): the reply to LSEEK.
public struct FuseLseekReply: Sendable, Equatable {
    public var offset: UInt64

    public static let size = 8

    public init(offset: UInt64) { self.offset = offset }

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(offset)
        return w.bytes
    }
}
