#if canImport(Glibc)
import Glibc
#endif

/// `struct fuse_statfs_out` = `struct fuse_kstatfs` (80 bytes): the reply to STATFS.
public struct FuseStatfsReply: Sendable, Equatable {
    /// Sizes in `fragmentSize` units.
    public var blocks: UInt64
    public var freeBlocks: UInt64
    /// Free blocks available to unprivileged users.
    public var availableBlocks: UInt64
    public var files: UInt64
    public var freeFiles: UInt64
    public var blockSize: UInt32
    public var nameLength: UInt32
    public var fragmentSize: UInt32

    public static let size = 80

    public init(blocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64, files: UInt64, freeFiles: UInt64,
                blockSize: UInt32, nameLength: UInt32 = 255, fragmentSize: UInt32) {
        self.blocks = blocks
        self.freeBlocks = freeBlocks
        self.availableBlocks = availableBlocks
        self.files = files
        self.freeFiles = freeFiles
        self.blockSize = blockSize
        self.nameLength = nameLength
        self.fragmentSize = fragmentSize
    }

    /// The 80 bytes: five 64-bit counts, bsize, namelen, frsize, padding, then `spare[6]` (zero).
    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(blocks); w.write(freeBlocks); w.write(availableBlocks); w.write(files); w.write(freeFiles)
        w.write(blockSize); w.write(nameLength); w.write(fragmentSize); w.write(UInt32(0))
        w.pad(to: Self.size)
        return w.bytes
    }
}

#if canImport(Glibc)
extension FuseStatfsReply {
    /// The host file system's figures, as `statvfs` reports them.
    public init(statvfs s: statvfs) {
        self.init(blocks: UInt64(s.f_blocks), freeBlocks: UInt64(s.f_bfree), availableBlocks: UInt64(s.f_bavail),
                  files: UInt64(s.f_files), freeFiles: UInt64(s.f_ffree), blockSize: UInt32(clamping: UInt64(s.f_bsize)),
                  nameLength: UInt32(clamping: UInt64(s.f_namemax)), fragmentSize: UInt32(clamping: UInt64(s.f_frsize)))
    }
}
#endif
