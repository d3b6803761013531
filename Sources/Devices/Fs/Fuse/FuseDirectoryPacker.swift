/// Packs directory entries into a READDIR or READDIRPLUS reply of at most `size` bytes (the request's
/// `fuse_read_in.size`). Records are `struct fuse_dirent` (24 bytes then the name, no NUL) or, for
/// READDIRPLUS, `struct fuse_direntplus` (`fuse_entry_out`, then the dirent: the name at 152), each
/// padded with zeros to FUSE_DIRENT_ALIGN (8 bytes); the guest parses whole records only
/// (`fs/fuse/readdir.c`). Every READDIRPLUS record with a non-zero node ID counts one lookup in the
/// guest, even one it could not pass on to the reader: use node ID 0 for "." and "..".
public struct FuseDirectoryPacker: Sendable {
    /// The reply's limit in bytes.
    public let size: Int
    public let plus: Bool
    public private(set) var bytes: [UInt8] = []
    /// Records appended.
    public private(set) var count = 0

    /// The longest name a guest accepts in a record (FUSE_NAME_MAX).
    public static let maxNameBytes = 1024
    /// `struct fuse_dirent` before the name.
    public static let direntHeaderSize = 24
    /// `struct fuse_direntplus` before the name.
    public static let direntplusHeaderSize = FuseEntry.size + direntHeaderSize

    public init(size: Int, plus: Bool) {
        self.size = max(0, size)
        self.plus = plus
        bytes.reserveCapacity(min(self.size, 1 << 20))
    }

    /// The bytes one record of a name of `nameLength` bytes takes: FUSE_DIRENT_ALIGN(header + name).
    public static func recordSize(nameLength: Int, plus: Bool) -> Int {
        ((plus ? direntplusHeaderSize : direntHeaderSize) + nameLength + 7) & ~7
    }

    /// Appends one record, or returns false (appending nothing) when it does not fit in `size`: the
    /// caller then replies with what was packed and the guest asks again from the last `offset`.
    /// - Parameters:
    ///   - name: 1–1024 bytes, no '/' or NUL (as every host directory entry; a guest refuses others with EIO).
    ///   - inode: `fuse_dirent.ino`.
    ///   - offset: the cookie to resume after this entry (never 0).
    ///   - type: DT_* (`FuseAttributes.directoryType(mode:)`).
    ///   - entry: READDIRPLUS only: the entry's lookup reply; nil sends node ID 0 ("no entry information").
    public mutating func append(name: [UInt8], inode: UInt64, offset: UInt64, type: UInt32, entry: FuseEntry?) -> Bool {
        precondition((1...Self.maxNameBytes).contains(name.count) && !name.contains(0) && !name.contains(UInt8(ascii: "/")),
                     "a directory entry name must be 1–1024 bytes without '/' or NUL")
        let record = Self.recordSize(nameLength: name.count, plus: plus)
        guard bytes.count + record <= size else { return false }
        var w = LittleEndianWriter()
        if plus {
            (entry ?? .none).append(to: &w)
        }
        w.write(inode); w.write(offset); w.write(UInt32(name.count)); w.write(type)
        bytes += w.bytes
        bytes += name
        bytes += [UInt8](repeating: 0, count: record - w.bytes.count - name.count)
        count += 1
        return true
    }

    public var isEmpty: Bool { count == 0 }
}
