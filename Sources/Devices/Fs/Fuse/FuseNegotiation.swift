/// What this server answers to FUSE_INIT (Linux `include/uapi/linux/fuse.h`, "Version negotiation";
/// the guest side is `process_init_reply` in `fs/fuse/inode.c`). Both ends state their version; with
/// equal majors both use the smaller minor. The reply's flags are those the guest offered that the
/// server serves (`supported`). FUSE_INIT_EXT is echoed when the reply carries a `flags2` bit: a guest
/// of Linux 6.4 or later ignores `flags2` without it.
public struct FuseNegotiation: Sendable, Equatable {
    /// The protocol major version; a guest with another cannot be served.
    public static let major: UInt32 = 7
    /// The newest minor this server implements (7.38: `total_extlen` in the in header).
    public static let newestMinor: UInt32 = 38
    /// The oldest minor served (7.31, as QEMU's virtiofsd): every layout parsed here is that version's.
    public static let oldestMinor: UInt32 = 31
    /// Linux EPROTO, the refusal of an unusable version.
    public static let eproto: Int32 = 71

    /// The flags served when a guest offers them, phase 1: no DAX, no writeback cache, no locks
    /// forwarded to the host, no EXPORT_SUPPORT (the guest resolves "." and ".." itself and never
    /// looks them up), no security labels or supplementary groups (so no request extensions).
    /// HANDLE_KILLPRIV_V2: the server clears set-user-ID and set-group-ID on a write, truncation or
    /// chown when the request says the caller lacks CAP_FSETID (the host's kernel does not: the
    /// server has CAP_FSETID), and the host's kernel drops security.capability on every write.
    /// Without it the guest asks GETXATTR security.capability before every write to a file: one
    /// more round trip per written file (Linux's fuse_cache_write_iter skips file_remove_privs with it).
    public static let phaseOne: FuseInitFlags = [
        .asyncRead, .atomicOpenTruncate, .bigWrites, .autoInvalidateData, .doReaddirplus, .readdirplusAuto, .asyncDirectIO,
        .parallelDirectoryOperations, .maxPages, .handleKillprivV2,
    ]

    public var supported: FuseInitFlags
    public var maxWrite: UInt32
    /// Pages per request: `maxWrite` in 4 KiB pages (256 = 1 MiB, the guest's limit).
    public var maxPages: UInt16
    /// Background requests in flight (the guest's default, 12, throttles readahead); the congestion
    /// threshold is three quarters of it, as in the guest's defaults.
    public var maxBackground: UInt16
    public var congestionThreshold: UInt16
    /// Nanoseconds: the host's timestamps are exact.
    public var timeGranularity: UInt32

    public init(supported: FuseInitFlags = phaseOne, maxWrite: UInt32 = UInt32(FuseRequest.maxWriteBytes), maxPages: UInt16 = 256,
                maxBackground: UInt16 = 64, congestionThreshold: UInt16 = 48, timeGranularity: UInt32 = 1) {
        self.supported = supported
        self.maxWrite = maxWrite
        self.maxPages = maxPages
        self.maxBackground = maxBackground
        self.congestionThreshold = congestionThreshold
        self.timeGranularity = timeGranularity
    }

    /// What to send for one FUSE_INIT.
    public enum Outcome: Sendable, Equatable {
        /// The session starts with this reply (`FuseReply.ok(unique:, reply.bytes)`).
        case accepted(FuseInitReply)
        /// The guest's major is newer than 7: answer with only our major and minor; the guest may
        /// send a new INIT with major 7 (the protocol's rule; no Linux guest does this today).
        case proposeOlderMajor(FuseInitReply)
        /// An unusable version (major below 7, or 7 with a minor below `oldestMinor`): an error
        /// reply with `errno` (EPROTO). A Linux guest then fails every request of the mount.
        case refused(errno: Int32)

        /// The reply's bytes, out header included.
        public func reply(unique: UInt64) -> [UInt8] {
            switch self {
            case let .accepted(reply), let .proposeOlderMajor(reply): FuseReply.ok(unique: unique, reply.bytes)
            case let .refused(errno): FuseReply.error(unique: unique, errno: errno)
            }
        }

        /// The reply sent when accepted.
        public var accepted: FuseInitReply? {
            if case let .accepted(reply) = self { reply } else { nil }
        }
    }

    /// The answer to a guest's INIT with these values.
    public func negotiate(major: UInt32, minor: UInt32, maxReadahead: UInt32, flags offered: UInt64) -> Outcome {
        if major > Self.major { return .proposeOlderMajor(FuseInitReply(major: Self.major, minor: Self.newestMinor)) }
        guard major == Self.major, minor >= Self.oldestMinor else { return .refused(errno: Self.eproto) }
        let guest = FuseInitFlags(rawValue: offered)
        var flags = guest.intersection(supported.subtracting(.initExtension))
        if !guest.contains(.initExtension) {
            flags = flags.intersection(FuseInitFlags(rawValue: UInt64(UInt32.max)))   // no flags2 without INIT_EXT
        } else if flags.flags2 != 0 {
            flags.insert(.initExtension)
        }
        return .accepted(FuseInitReply(
            major: Self.major, minor: min(minor, Self.newestMinor), maxReadahead: maxReadahead, flags: flags,
            maxBackground: maxBackground, congestionThreshold: congestionThreshold, maxWrite: maxWrite,
            timeGranularity: timeGranularity, maxPages: flags.contains(.maxPages) ? maxPages : 0))
    }

    /// The answer to a parsed request, if it is an INIT.
    public func negotiate(_ request: FuseRequest) -> Outcome? {
        guard case let .initialize(major, minor, maxReadahead, flags) = request else { return nil }
        return negotiate(major: major, minor: minor, maxReadahead: maxReadahead, flags: flags)
    }
}
