/// `struct fuse_init_out` (64 bytes in every protocol version): the reply to FUSE_INIT. The 64-bit
/// `flags` go out as `flags` (bits 0–31, offset 12) and `flags2` (bits 32–63, offset 32); a guest of
/// Linux 6.4 or later reads `flags2` only if `flags` holds FUSE_INIT_EXT. `max_stack_depth` (7.40,
/// passthrough only) and `request_timeout` (7.43) stay zero.
public struct FuseInitReply: Sendable, Equatable {
    public var major: UInt32
    public var minor: UInt32
    public var maxReadahead: UInt32
    public var flags: FuseInitFlags
    /// Requests the guest keeps in flight in the background (readahead, async direct I/O); 0 keeps the guest's default (12).
    public var maxBackground: UInt16
    /// 0 keeps the guest's default (9).
    public var congestionThreshold: UInt16
    /// The most data per WRITE (the guest uses at least 4096).
    public var maxWrite: UInt32
    /// Timestamp granularity in nanoseconds.
    public var timeGranularity: UInt32
    /// The most pages per request, with FUSE_MAX_PAGES (capped by the guest at 256 and its ring size less 4).
    public var maxPages: UInt16
    /// DAX mapping alignment (log2), with FUSE_MAP_ALIGNMENT.
    public var mapAlignment: UInt16

    public static let size = 64

    public init(major: UInt32, minor: UInt32, maxReadahead: UInt32 = 0, flags: FuseInitFlags = [], maxBackground: UInt16 = 0,
                congestionThreshold: UInt16 = 0, maxWrite: UInt32 = 0, timeGranularity: UInt32 = 0, maxPages: UInt16 = 0,
                mapAlignment: UInt16 = 0) {
        self.major = major
        self.minor = minor
        self.maxReadahead = maxReadahead
        self.flags = flags
        self.maxBackground = maxBackground
        self.congestionThreshold = congestionThreshold
        self.maxWrite = maxWrite
        self.timeGranularity = timeGranularity
        self.maxPages = maxPages
        self.mapAlignment = mapAlignment
    }

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(major); w.write(minor); w.write(maxReadahead); w.write(flags.flags)
        w.write(maxBackground); w.write(congestionThreshold); w.write(maxWrite); w.write(timeGranularity)
        w.write(maxPages); w.write(mapAlignment); w.write(flags.flags2)
        w.pad(to: Self.size)
        return w.bytes
    }
}
