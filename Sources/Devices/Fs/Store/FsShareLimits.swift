/// How much of the host's file system one share may use ({issue 12}: "a size/inode limit"):
/// nil is no limit. Applied by the server, not the host file system, so it works on any host
/// file system; see [FsUsage] for what is counted and when.
public struct FsShareLimits: Sendable, Equatable {
    public var bytes: UInt64?
    public var inodes: UInt64?

    public init(bytes: UInt64? = nil, inodes: UInt64? = nil) {
        self.bytes = bytes
        self.inodes = inodes
    }

    public static let none = FsShareLimits()
    public var isNone: Bool { bytes == nil && inodes == nil }
}
