/// FUSE_INIT capability flags as one 64-bit word: bits 0–31 travel in `fuse_init_in/out.flags`,
/// bits 32–63 in `flags2` (present only with `initExtension`, FUSE_INIT_EXT). Names and bits are those
/// of Linux `include/uapi/linux/fuse.h`; the effect of each in a Linux guest is in `fs/fuse/inode.c`
/// (`process_init_reply`).
public struct FuseInitFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Builds the word from the two 32-bit halves of the wire.
    public init(flags: UInt32, flags2: UInt32) { rawValue = UInt64(flags) | UInt64(flags2) << 32 }

    /// The low half (`flags`).
    public var flags: UInt32 { UInt32(truncatingIfNeeded: rawValue) }
    /// The high half (`flags2`).
    public var flags2: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }

    private init(bit: Int) { rawValue = 1 << UInt64(bit) }

    /// Parallel readahead READs.
    public static let asyncRead = Self(bit: 0)
    public static let posixLocks = Self(bit: 1)
    public static let fileOps = Self(bit: 2)
    /// O_TRUNC is passed in OPEN instead of a SETATTR(size: 0) after it.
    public static let atomicOpenTruncate = Self(bit: 3)
    /// The guest may LOOKUP "." and ".." (NFS export of the mount).
    public static let exportSupport = Self(bit: 4)
    /// Buffered writes larger than a page.
    public static let bigWrites = Self(bit: 5)
    /// The server applies `umask` itself.
    public static let dontMask = Self(bit: 6)
    public static let spliceWrite = Self(bit: 7)
    public static let spliceMove = Self(bit: 8)
    public static let spliceRead = Self(bit: 9)
    public static let flockLocks = Self(bit: 10)
    public static let hasIoctlDirectory = Self(bit: 11)
    /// The guest drops its page cache when mtime or size change.
    public static let autoInvalidateData = Self(bit: 12)
    public static let doReaddirplus = Self(bit: 13)
    public static let readdirplusAuto = Self(bit: 14)
    public static let asyncDirectIO = Self(bit: 15)
    public static let writebackCache = Self(bit: 16)
    public static let noOpenSupport = Self(bit: 17)
    /// Without it the guest serialises lookups and readdirs per directory.
    public static let parallelDirectoryOperations = Self(bit: 18)
    public static let handleKillpriv = Self(bit: 19)
    public static let posixACL = Self(bit: 20)
    public static let abortError = Self(bit: 21)
    /// `max_pages` in the reply is meaningful (otherwise 32 pages per request).
    public static let maxPages = Self(bit: 22)
    public static let cacheSymlinks = Self(bit: 23)
    public static let noOpendirSupport = Self(bit: 24)
    public static let explicitInvalidateData = Self(bit: 25)
    /// DAX: `map_alignment` is meaningful.
    public static let mapAlignment = Self(bit: 26)
    public static let submounts = Self(bit: 27)
    public static let handleKillprivV2 = Self(bit: 28)
    /// The 16-byte `fuse_setxattr_in`.
    public static let setxattrExtension = Self(bit: 29)
    /// FUSE_INIT_EXT: `fuse_init_in` is the 64-byte layout and `flags2` is meaningful.
    public static let initExtension = Self(bit: 30)
    public static let initReserved = Self(bit: 31)
    public static let securityContext = Self(bit: 32)
    public static let hasInodeDAX = Self(bit: 33)
    public static let createSupplementaryGroup = Self(bit: 34)
    public static let hasExpireOnly = Self(bit: 35)
    public static let directIOAllowMmap = Self(bit: 36)
    public static let passthrough = Self(bit: 37)
    public static let noExportSupport = Self(bit: 38)
    public static let hasResend = Self(bit: 39)
    public static let allowIdmap = Self(bit: 40)
    public static let overIOUring = Self(bit: 41)
    public static let requestTimeout = Self(bit: 42)

    public var description: String {
        "0x\(String(rawValue, radix: 16))"
    }
}
