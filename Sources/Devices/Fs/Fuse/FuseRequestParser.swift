extension FuseRequest {
    /// Parses one request: `bytes` is everything the driver made device-readable (header + args + data).
    /// `fuse_in_header.len` must equal `bytes.count`; extensions (`total_extlen`, 7.38+) are skipped;
    /// bytes after the last argument an opcode defines are ignored. Assumes the short (8-byte)
    /// `fuse_setxattr_in`, as this server does not negotiate FUSE_SETXATTR_EXT.
    public static func parse(_ bytes: [UInt8]) throws(FuseParseError) -> (FuseInHeader, FuseRequest) {
        try parse(bytes, extendedSetxattr: false)
    }

    /// `parse(_:)` for a session that negotiated FUSE_SETXATTR_EXT (`extendedSetxattr`: the 16-byte
    /// `fuse_setxattr_in`).
    public static func parse(_ bytes: [UInt8], extendedSetxattr: Bool) throws(FuseParseError) -> (FuseInHeader, FuseRequest) {
        guard bytes.count <= maxRequestBytes else { throw .tooLarge(bytes.count) }
        guard let header = FuseInHeader(bytes) else { throw .shortHeader(got: bytes.count) }
        guard Int(header.length) == bytes.count else { throw .lengthMismatch(header: header.length, actual: bytes.count) }
        let available = bytes.count - FuseInHeader.size, extensionBytes = Int(header.extensionUnits) * 8
        guard extensionBytes <= available else { throw .extensionsTooLong(units: header.extensionUnits, available: available) }
        var r = FuseArgumentReader(bytes: bytes, opcode: header.opcode, end: bytes.count - extensionBytes)
        guard let opcode = FuseOpcode(rawValue: header.opcode) else { return (header, .unsupported(opcode: header.opcode)) }
        return (header, try request(opcode, &r, extendedSetxattr: extendedSetxattr))
    }

    /// Decodes the arguments after the header (layouts: Linux `include/uapi/linux/fuse.h`, the order of
    /// names and structures: `fs/fuse/dir.c`, `file.c`, `xattr.c`, `readdir.c`).
    private static func request(_ opcode: FuseOpcode, _ r: inout FuseArgumentReader,
                                extendedSetxattr: Bool) throws(FuseParseError) -> FuseRequest {
        switch opcode {
        case .initialize:
            // fuse_init_in: 16 bytes before 7.36, 64 with flags2 (read only with FUSE_INIT_EXT).
            try r.need(16)
            let major = r.u32(), minor = r.u32(), maxReadahead = r.u32(), flags = r.u32()
            var all = UInt64(flags)
            if flags & FuseInitFlags.initExtension.flags != 0 {
                try r.need(48)
                all |= UInt64(r.u32()) << 32
            }
            return .initialize(major: major, minor: minor, maxReadahead: maxReadahead, flags: all)
        case .destroy: return .destroy
        case .lookup: return .lookup(name: try r.string(.entryName))
        case .forget:
            try r.need(8)
            return .forget(nlookup: r.u64())
        case .batchForget:
            // fuse_batch_forget_in (count, dummy), then count × fuse_forget_one (nodeid, nlookup).
            try r.need(8)
            let count = Int(r.u32())
            _ = r.u32()
            try r.need(count * 16)
            return .batchForget((0..<count).map { _ in FuseForget(nodeID: r.u64(), nlookup: r.u64()) })
        case .getattr:
            // fuse_getattr_in: getattr_flags (FUSE_GETATTR_FH 1), dummy, fh.
            try r.need(16)
            let flags = r.u32()
            _ = r.u32()
            let handle = r.u64()
            return .getattr(handle: flags & 1 != 0 ? handle : nil)
        case .setattr:
            try r.need(FuseSetattr.size)
            return .setattr(FuseSetattr(&r))
        case .readlink: return .readlink
        case .symlink:
            // Name first, then the target (fuse_symlink in dir.c).
            let name = try r.string(.entryName)
            return .symlink(name: name, target: try r.string(.symlinkTarget))
        case .mknod:
            try r.need(16)
            let mode = r.u32(), rdev = r.u32(), umask = r.u32()
            _ = r.u32()
            return .mknod(name: try r.string(.entryName), mode: mode, rdev: rdev, umask: umask)
        case .mkdir:
            try r.need(8)
            let mode = r.u32(), umask = r.u32()
            return .mkdir(name: try r.string(.entryName), mode: mode, umask: umask)
        case .unlink: return .unlink(name: try r.string(.entryName))
        case .rmdir: return .rmdir(name: try r.string(.entryName))
        case .rename, .rename2:
            // fuse_rename_in (newdir) or fuse_rename2_in (newdir, flags, padding), old name, new name.
            try r.need(opcode == .rename ? 8 : 16)
            let newParent = r.u64()
            var flags: UInt32 = 0
            if opcode == .rename2 {
                flags = r.u32()
                _ = r.u32()
            }
            let oldName = try r.string(.entryName)
            return .rename(newParent: newParent, oldName: oldName, newName: try r.string(.entryName), flags: flags)
        case .link:
            try r.need(8)
            let old = r.u64()
            return .link(oldNodeID: old, newName: try r.string(.entryName))
        case .open, .opendir:
            // fuse_open_in: flags, open_flags (FUSE_OPEN_KILL_SUIDGID).
            try r.need(8)
            let flags = r.u32(), openFlags = r.u32()
            return opcode == .open ? .open(flags: flags, killSuidgid: openFlags & FuseRequest.openKillSuidgid != 0) : .opendir(flags: flags)
        case .read, .readdir, .readdirplus:
            // fuse_read_in: fh, offset, size, read_flags, lock_owner, flags, padding.
            try r.need(40)
            let handle = r.u64(), offset = r.u64(), size = r.u32()
            if opcode == .read { return .read(handle: handle, offset: offset, size: size) }
            return .readdir(handle: handle, offset: offset, size: size, plus: opcode == .readdirplus)
        case .write:
            // fuse_write_in (as fuse_read_in, with write_flags), then `size` bytes of data.
            try r.need(40)
            let handle = r.u64(), offset = r.u64(), size = r.u32(), flags = r.u32()
            r.skip(16)
            return .write(handle: handle, offset: offset, data: try r.take(Int(size)), flags: flags)
        case .statfs: return .statfs
        case .release, .releasedir:
            // fuse_release_in: fh, flags, release_flags, lock_owner.
            try r.need(24)
            let handle = r.u64(), flags = r.u32()
            return opcode == .release ? .release(handle: handle, flags: flags) : .releasedir(handle: handle)
        case .fsync, .fsyncdir:
            // fuse_fsync_in: fh, fsync_flags (FUSE_FSYNC_FDATASYNC 1), padding.
            try r.need(16)
            let handle = r.u64(), dataOnly = r.u32() & 1 != 0
            return opcode == .fsync ? .fsync(handle: handle, dataOnly: dataOnly) : .fsyncdir(handle: handle, dataOnly: dataOnly)
        case .setxattr:
            // fuse_setxattr_in (size, flags[, setxattr_flags, padding]), name, then `size` value bytes.
            try r.need(extendedSetxattr ? 16 : 8)
            let size = r.u32(), flags = r.u32()
            if extendedSetxattr { r.skip(8) }
            let name = try r.string(.attributeName)
            return .setxattr(name: name, value: Array(try r.take(Int(size))), flags: flags)
        case .getxattr:
            try r.need(8)
            let size = r.u32()
            _ = r.u32()
            return .getxattr(name: try r.string(.attributeName), size: size)
        case .listxattr:
            try r.need(8)
            return .listxattr(size: r.u32())
        case .removexattr: return .removexattr(name: try r.string(.attributeName))
        case .flush:
            try r.need(24)
            return .flush(handle: r.u64())
        case .access:
            try r.need(8)
            return .access(mask: r.u32())
        case .create:
            // fuse_create_in: flags, mode, umask, open_flags; then the name.
            try r.need(16)
            let flags = r.u32(), mode = r.u32(), umask = r.u32(), openFlags = r.u32()
            return .create(name: try r.string(.entryName), flags: flags, mode: mode, umask: umask,
                           killSuidgid: openFlags & FuseRequest.openKillSuidgid != 0)
        case .interrupt:
            try r.need(8)
            return .interrupt
        case .fallocate:
            try r.need(32)
            return .fallocate(handle: r.u64(), offset: r.u64(), length: r.u64(), mode: r.u32())
        case .lseek:
            try r.need(24)
            return .lseek(handle: r.u64(), offset: r.u64(), whence: r.u32())
        case .copyFileRange:
            try r.need(56)
            return .copyFileRange(handleIn: r.u64(), offsetIn: r.u64(), nodeOut: r.u64(), handleOut: r.u64(),
                                  offsetOut: r.u64(), length: r.u64(), flags: r.u64())
        case .syncfs:
            try r.need(8)
            return .syncfs
        case .getlk, .setlk, .setlkw, .bmap, .ioctl, .poll, .notifyReply, .setupMapping, .removeMapping, .tmpfile,
             .statx, .copyFileRange64, .cuseInit:
            return .unsupported(opcode: opcode.rawValue)
        }
    }
}

/// The arguments of one request: bytes from the end of the header to the start of the extensions,
/// read front to back. Fixed structures are read after `need` has checked their size.
struct FuseArgumentReader {
    /// What a NUL-terminated string is, for its checks.
    enum StringKind {
        /// A directory entry name: 1–255 bytes, no '/'.
        case entryName
        /// An extended attribute name: 1–255 bytes ('/' allowed).
        case attributeName
        /// A symlink target: 1–4095 bytes.
        case symlinkTarget
    }

    let bytes: [UInt8]
    let opcode: UInt32
    let end: Int
    private(set) var offset = FuseInHeader.size

    init(bytes: [UInt8], opcode: UInt32, end: Int) {
        self.bytes = bytes
        self.opcode = opcode
        self.end = end
    }

    var remaining: Int { end - offset }

    /// Requires `count` more bytes of arguments.
    func need(_ count: Int) throws(FuseParseError) {
        guard remaining >= count else {
            throw .bodyTooShort(opcode: opcode, needed: offset - FuseInHeader.size + count, got: end - FuseInHeader.size)
        }
    }

    mutating func u32() -> UInt32 { integer() }
    mutating func u64() -> UInt64 { integer() }

    /// A little-endian integer; the caller has checked the room with `need`.
    private mutating func integer<T: FixedWidthInteger>() -> T {
        let size = MemoryLayout<T>.size
        precondition(size <= remaining, "FUSE argument read past the checked size")
        var value = T.zero
        for i in 0..<size { value |= T(bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }

    mutating func skip(_ count: Int) {
        precondition(count <= remaining, "FUSE argument skip past the checked size")
        offset += count
    }

    /// The next `count` bytes, as a slice of the request.
    mutating func take(_ count: Int) throws(FuseParseError) -> ArraySlice<UInt8> {
        try need(count)
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// A NUL-terminated string, without its NUL.
    mutating func string(_ kind: StringKind) throws(FuseParseError) -> [UInt8] {
        guard let nul = bytes[offset..<end].firstIndex(of: 0) else { throw .nameNotTerminated(opcode: opcode) }
        let value = Array(bytes[offset..<nul])
        offset = nul + 1
        guard !value.isEmpty else { throw .emptyName(opcode: opcode) }
        let limit = kind == .symlinkTarget ? FuseRequest.maxSymlinkTargetBytes : FuseRequest.maxNameBytes
        guard value.count <= limit else { throw .nameTooLong(opcode: opcode, length: value.count) }
        if kind == .entryName, value.contains(UInt8(ascii: "/")) { throw .nameContainsSlash(opcode: opcode) }
        return value
    }
}
