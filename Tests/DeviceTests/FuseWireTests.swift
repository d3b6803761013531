import Devices
import Testing

// FUSE requests as a Linux virtio-fs driver lays them out (include/uapi/linux/fuse.h), built byte by
// byte here rather than with the module's own encoders, so a layout mistake on either side shows.

func fuse32(_ values: UInt32...) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.littleEndian, Array.init) } }
func fuse64(_ values: UInt64...) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.littleEndian, Array.init) } }
func fuse16(_ values: UInt16...) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.littleEndian, Array.init) } }
/// A NUL-terminated name.
func fuseName(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

/// `fuse_in_header` (len, opcode, unique, nodeid, uid, gid, pid, total_extlen, padding) and the body.
func fuseRequest(_ opcode: UInt32, node: UInt64 = 5, unique: UInt64 = 0x1122_3344_5566_7788, extensionUnits: UInt16 = 0,
                 _ body: [UInt8] = []) -> [UInt8] {
    fuse32(UInt32(40 + body.count), opcode) + fuse64(unique, node) + fuse32(1000, 100, 4242) + fuse16(extensionUnits, 0) + body
}

/// The request `parse` decodes, or nil when it refuses it.
func fuseParse(_ opcode: UInt32, node: UInt64 = 5, _ body: [UInt8] = []) -> FuseRequest? {
    try? FuseRequest.parse(fuseRequest(opcode, node: node, body)).1
}

@Suite struct FuseRequestParsing {
    @Test("fuse_in_header: every field at its offset (len 0, opcode 4, unique 8, nodeid 16, uid 24, gid 28, pid 32, total_extlen 36)")
    func header() throws {
        let bytes = fuseRequest(1, node: 0xAABB_CCDD_EEFF_0011, fuseName("x"))
        let (header, request) = try FuseRequest.parse(bytes)
        #expect(header == FuseInHeader(length: 42, opcode: 1, unique: 0x1122_3344_5566_7788, nodeID: 0xAABB_CCDD_EEFF_0011,
                                       uid: 1000, gid: 100, pid: 4242))
        #expect(request == .lookup(name: Array("x".utf8)))
        #expect(header.bytes == Array(bytes.prefix(40)) && FuseInHeader.size == 40)
        #expect(FuseInHeader(Array(bytes.prefix(39))) == nil)
    }

    @Test("FUSE_INIT: the 16-byte layout of old kernels, the 64-byte one, flags2 only with FUSE_INIT_EXT")
    func initialize() throws {
        #expect(fuseParse(26, fuse32(7, 31, 0x20000, 0x21)) == .initialize(major: 7, minor: 31, maxReadahead: 0x20000, flags: 0x21))
        let linux61 = fuse32(7, 37, 0x20000, 0x7BFF_FFFB, 0) + [UInt8](repeating: 0, count: 44)
        #expect(fuseParse(26, linux61) == .initialize(major: 7, minor: 37, maxReadahead: 0x20000, flags: 0x7BFF_FFFB))
        let linux612 = fuse32(7, 41, 0x20000, 0x7BFF_FFFB, 0x1DD) + [UInt8](repeating: 0, count: 44)
        #expect(fuseParse(26, linux612) == .initialize(major: 7, minor: 41, maxReadahead: 0x20000, flags: 0x1DD_7BFF_FFFB))
        // flags2 is ignored without INIT_EXT.
        let noExtension = fuse32(7, 41, 0, 0x21, 0x1DD) + [UInt8](repeating: 0, count: 44)
        #expect(fuseParse(26, noExtension) == .initialize(major: 7, minor: 41, maxReadahead: 0, flags: 0x21))
        // INIT_EXT promises the 64-byte structure.
        #expect(throws: FuseParseError.bodyTooShort(opcode: 26, needed: 64, got: 16)) {
            try FuseRequest.parse(fuseRequest(26, fuse32(7, 41, 0, 0x4000_0000)))
        }
        #expect(throws: FuseParseError.bodyTooShort(opcode: 26, needed: 16, got: 12)) { try FuseRequest.parse(fuseRequest(26, fuse32(7, 41, 0))) }
    }

    @Test("requests with a name: LOOKUP, UNLINK, RMDIR, MKNOD, MKDIR, LINK, CREATE, SYMLINK (name then target)")
    func names() {
        let a = Array("a.txt".utf8)
        #expect(fuseParse(1, fuseName("a.txt")) == .lookup(name: a))
        #expect(fuseParse(10, fuseName("a.txt")) == .unlink(name: a))
        #expect(fuseParse(11, fuseName("a.txt")) == .rmdir(name: a))
        #expect(fuseParse(8, fuse32(0o10644, 0x801, 0o022, 0) + fuseName("a.txt")) == .mknod(name: a, mode: 0o10644, rdev: 0x801, umask: 0o022))
        #expect(fuseParse(9, fuse32(0o755, 0o022) + fuseName("a.txt")) == .mkdir(name: a, mode: 0o755, umask: 0o022))
        #expect(fuseParse(13, fuse64(77) + fuseName("a.txt")) == .link(oldNodeID: 77, newName: a))
        #expect(fuseParse(35, fuse32(0o100101, 0o644, 0o022, 0) + fuseName("a.txt"))
            == .create(name: a, flags: 0o100101, mode: 0o644, umask: 0o022))
        #expect(fuseParse(6, fuseName("l") + fuseName("../x/y")) == .symlink(name: Array("l".utf8), target: Array("../x/y".utf8)))
        // ".." and "." are syntactically names: the store decides (and refuses ".." at the root).
        #expect(fuseParse(1, fuseName("..")) == .lookup(name: Array("..".utf8)))
        #expect(fuseParse(1, fuseName(".")) == .lookup(name: Array(".".utf8)))
        // Non-UTF-8 bytes are fine in a name.
        #expect(fuseParse(1, [0xFF, 0xFE, 0]) == .lookup(name: [0xFF, 0xFE]))
    }

    @Test("RENAME (flags 0) and RENAME2 (fuse_rename2_in with flags) give one case")
    func rename() {
        #expect(fuseParse(12, fuse64(9) + fuseName("old") + fuseName("new"))
            == .rename(newParent: 9, oldName: Array("old".utf8), newName: Array("new".utf8), flags: 0))
        #expect(fuseParse(45, fuse64(9) + fuse32(2, 0) + fuseName("old") + fuseName("new"))
            == .rename(newParent: 9, oldName: Array("old".utf8), newName: Array("new".utf8), flags: 2))
        #expect(throws: FuseParseError.nameNotTerminated(opcode: 12)) { try FuseRequest.parse(fuseRequest(12, fuse64(9) + fuseName("old") + Array("new".utf8))) }
    }

    @Test("FORGET, BATCH_FORGET, GETATTR with and without FUSE_GETATTR_FH")
    func forgetAndGetattr() {
        #expect(fuseParse(2, fuse64(3)) == .forget(nlookup: 3))
        #expect(fuseParse(42, fuse32(2, 0) + fuse64(10, 1, 11, 5))
            == .batchForget([FuseForget(nodeID: 10, nlookup: 1), FuseForget(nodeID: 11, nlookup: 5)]))
        #expect(fuseParse(42, fuse32(0, 0)) == .batchForget([]))
        #expect(throws: FuseParseError.bodyTooShort(opcode: 42, needed: 40, got: 24)) { try FuseRequest.parse(fuseRequest(42, fuse32(2, 0) + fuse64(10, 1))) }
        #expect(fuseParse(3, fuse32(0, 0) + fuse64(99)) == .getattr(handle: nil))
        #expect(fuseParse(3, fuse32(1, 0) + fuse64(99)) == .getattr(handle: 99))
        #expect(!FuseRequest.forget(nlookup: 1).expectsReply && FuseRequest.getattr(handle: nil).expectsReply)
    }

    /// `fuse_setattr_in` with the given `valid` and distinct values in every field.
    func setattr(valid: UInt32) -> FuseRequest? {
        fuseParse(4, fuse32(valid, 0) + fuse64(0xF0, 4096, 0x10C, 1_700_000_000, 1_700_000_001, 1_700_000_002)
            + fuse32(11, 12, 13, 0o100600, 0, 501, 20, 0))
    }

    @Test("SETATTR: the FATTR_* valid bits decode into optionals; *_NOW means the host's current time")
    func setattrBits() {
        #expect(setattr(valid: 0) == .setattr(FuseSetattr()))
        #expect(setattr(valid: 0x7F) == .setattr(FuseSetattr(
            mode: 0o100600, uid: 501, gid: 20, size: 4096, atime: .time(FuseTime(seconds: 1_700_000_000, nanoseconds: 11)),
            mtime: .time(FuseTime(seconds: 1_700_000_001, nanoseconds: 12)), handle: 0xF0)))
        #expect(setattr(valid: 0x30 | 0x180) == .setattr(FuseSetattr(atime: .now, mtime: .now)))
        #expect(setattr(valid: 0x200 | 0x400 | 0x800) == .setattr(FuseSetattr(
            ctime: FuseTime(seconds: 1_700_000_002, nanoseconds: 13), lockOwner: 0x10C, killSuidgid: true)))
        #expect(throws: FuseParseError.bodyTooShort(opcode: 4, needed: 88, got: 80)) { try FuseRequest.parse(fuseRequest(4, [UInt8](repeating: 0, count: 80))) }
    }

    @Test("OPEN, READ, WRITE (data is the request's slice), RELEASE, FLUSH, FSYNC, and their directory twins")
    func files() throws {
        #expect(fuseParse(14, fuse32(0o2, 1)) == .open(flags: 0o2, killSuidgid: true))
        #expect(fuseParse(27, fuse32(0o200000, 0)) == .opendir(flags: 0o200000))
        let readIn = fuse64(0xAB, 8192) + fuse32(4096, 0) + fuse64(0) + fuse32(0o2, 0)
        #expect(fuseParse(15, readIn) == .read(handle: 0xAB, offset: 8192, size: 4096))
        #expect(fuseParse(28, readIn) == .readdir(handle: 0xAB, offset: 8192, size: 4096, plus: false))
        #expect(fuseParse(44, readIn) == .readdir(handle: 0xAB, offset: 8192, size: 4096, plus: true))
        let data: [UInt8] = [1, 2, 3, 4, 5]
        let bytes = fuseRequest(16, fuse64(0xAB, 100) + fuse32(5, 4) + fuse64(0) + fuse32(0o2, 0) + data)
        let (_, write) = try FuseRequest.parse(bytes)
        #expect(write == .write(handle: 0xAB, offset: 100, data: data[...], flags: 4))
        if case let .write(_, _, slice, _) = write { #expect(slice.startIndex == 80 && slice.endIndex == 85) }
        #expect(throws: FuseParseError.bodyTooShort(opcode: 16, needed: 46, got: 45)) {
            try FuseRequest.parse(fuseRequest(16, fuse64(0xAB, 100) + fuse32(6, 0) + fuse64(0) + fuse32(0, 0) + data))
        }
        #expect(fuseParse(18, fuse64(0xAB) + fuse32(0o2, 1) + fuse64(0)) == .release(handle: 0xAB, flags: 0o2))
        #expect(fuseParse(29, fuse64(0xAC) + fuse32(0, 0) + fuse64(0)) == .releasedir(handle: 0xAC))
        #expect(fuseParse(25, fuse64(0xAB) + fuse32(0, 0) + fuse64(0x55)) == .flush(handle: 0xAB))
        #expect(fuseParse(20, fuse64(0xAB) + fuse32(1, 0)) == .fsync(handle: 0xAB, dataOnly: true))
        #expect(fuseParse(20, fuse64(0xAB) + fuse32(0, 0)) == .fsync(handle: 0xAB, dataOnly: false))
        #expect(fuseParse(30, fuse64(0xAC) + fuse32(1, 0)) == .fsyncdir(handle: 0xAC, dataOnly: true))
        #expect(throws: FuseParseError.bodyTooShort(opcode: 15, needed: 40, got: 24)) { try FuseRequest.parse(fuseRequest(15, Array(readIn.prefix(24)))) }
    }

    @Test("xattrs: SETXATTR (8- or 16-byte fuse_setxattr_in, name, value), GETXATTR, LISTXATTR, REMOVEXATTR")
    func xattrs() throws {
        let name = Array("user.a/b".utf8)   // '/' is allowed in an attribute name
        #expect(fuseParse(21, fuse32(3, 1) + fuseName("user.a/b") + [9, 0, 8]) == .setxattr(name: name, value: [9, 0, 8], flags: 1))
        let extended = fuseRequest(21, fuse32(3, 2, 1, 0) + fuseName("user.a/b") + [9, 0, 8])
        #expect(try FuseRequest.parse(extended, extendedSetxattr: true).1 == .setxattr(name: name, value: [9, 0, 8], flags: 2))
        // A value shorter than fuse_setxattr_in.size: 8 + 7 + 3 bytes needed, 8 + 7 + 2 there.
        #expect(throws: FuseParseError.bodyTooShort(opcode: 21, needed: 18, got: 17)) {
            try FuseRequest.parse(fuseRequest(21, fuse32(3, 1) + fuseName("user.x") + [9, 0]))
        }
        #expect(fuseParse(21, fuse32(0, 0) + fuseName("user.empty")) == .setxattr(name: Array("user.empty".utf8), value: [], flags: 0))
        #expect(fuseParse(22, fuse32(0, 0) + fuseName("user.a/b")) == .getxattr(name: name, size: 0))
        #expect(fuseParse(22, fuse32(256, 0) + fuseName("user.a/b")) == .getxattr(name: name, size: 256))
        #expect(fuseParse(23, fuse32(4096, 0)) == .listxattr(size: 4096))
        #expect(fuseParse(24, fuseName("user.a/b")) == .removexattr(name: name))
    }

    @Test("the rest: DESTROY, READLINK, STATFS, ACCESS, FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS, INTERRUPT")
    func others() {
        #expect(fuseParse(38) == .destroy)
        #expect(fuseParse(5) == .readlink)
        #expect(fuseParse(17) == .statfs)
        #expect(fuseParse(34, fuse32(4, 0)) == .access(mask: 4))
        #expect(fuseParse(43, fuse64(1, 2, 3) + fuse32(0x10, 0)) == .fallocate(handle: 1, offset: 2, length: 3, mode: 0x10))
        #expect(fuseParse(46, fuse64(1, 4096) + fuse32(3, 0)) == .lseek(handle: 1, offset: 4096, whence: 3))
        #expect(fuseParse(47, fuse64(1, 2, 3, 4, 5, 6, 7))
            == .copyFileRange(handleIn: 1, offsetIn: 2, nodeOut: 3, handleOut: 4, offsetOut: 5, length: 6, flags: 7))
        #expect(fuseParse(50, fuse64(0)) == .syncfs)
        #expect(fuseParse(36, fuse64(0x99)) == .interrupt)
        #expect(fuseParse(50) == nil && fuseParse(34) == nil && fuseParse(47, fuse64(1, 2, 3, 4, 5, 6)) == nil)
    }

    @Test("opcodes not served (locks, BMAP, IOCTL, POLL, DAX mappings, TMPFILE, STATX, ...) and unknown ones: unsupported")
    func unsupported() {
        for opcode: UInt32 in [31, 32, 33, 37, 39, 40, 41, 48, 49, 51, 52, 53, 4096, 7, 19, 54, 0, 0xFFFF_FFFF] {
            #expect(fuseParse(opcode) == .unsupported(opcode: opcode), "opcode \(opcode)")
        }
        #expect(FuseOpcode(rawValue: 44) == .readdirplus && FuseOpcode(rawValue: 7) == nil && FuseOpcode.allCases.count == 52)
    }

    @Test("extensions (total_extlen × 8 bytes at the end) are not part of the arguments")
    func extensions() throws {
        let ext = fuse32(16, 1) + fuse64(0x6161_6161_6161_6161)   // a 16-byte extension block
        let mkdir = fuseRequest(9, extensionUnits: 2, fuse32(0o755, 0o022) + fuseName("d") + ext)
        let parsed = try FuseRequest.parse(mkdir)
        #expect(parsed.0.extensionUnits == 2 && parsed.1 == .mkdir(name: Array("d".utf8), mode: 0o755, umask: 0o022))
        // A name whose only NUL lies in the extensions is not terminated.
        #expect(throws: FuseParseError.nameNotTerminated(opcode: 1)) {
            try FuseRequest.parse(fuseRequest(1, extensionUnits: 1, Array("abc".utf8) + [0, 0, 0, 0, 0, 0, 0, 0]))
        }
        #expect(throws: FuseParseError.extensionsTooLong(units: 2, available: 8)) { try FuseRequest.parse(fuseRequest(50, extensionUnits: 2, fuse64(0))) }
    }
}

@Suite struct FuseRequestRefusal {
    @Test("short, oversized and lying requests are refused with the reason")
    func framing() {
        let lookup = fuseRequest(1, fuseName("a"))
        #expect(throws: FuseParseError.shortHeader(got: 39)) { try FuseRequest.parse(Array(lookup.prefix(39))) }
        #expect(throws: FuseParseError.shortHeader(got: 0)) { try FuseRequest.parse([]) }
        // The header's len must be what the driver made readable, in both directions.
        #expect(throws: FuseParseError.lengthMismatch(header: 42, actual: 41)) { try FuseRequest.parse(Array(lookup.prefix(41))) }
        #expect(throws: FuseParseError.lengthMismatch(header: 42, actual: 50)) { try FuseRequest.parse(lookup + [0, 0, 0, 0, 0, 0, 0, 0]) }
        var lying = lookup
        lying[0] = 0xFF
        #expect(throws: FuseParseError.lengthMismatch(header: 0xFF, actual: 42)) { try FuseRequest.parse(lying) }
        // One byte over the limit, however consistent.
        let limit = FuseRequest.maxRequestBytes
        #expect(limit == 40 + (1 << 20) + 4096)
        let big = fuseRequest(16, fuse64(1, 0) + fuse32(UInt32(limit - 80 + 1), 0) + fuse64(0) + fuse32(0, 0)
            + [UInt8](repeating: 7, count: limit - 80 + 1))
        #expect(throws: FuseParseError.tooLarge(limit + 1)) { try FuseRequest.parse(big) }
        let largest = fuseRequest(16, fuse64(1, 0) + fuse32(UInt32(limit - 80), 0) + fuse64(0) + fuse32(0, 0)
            + [UInt8](repeating: 7, count: limit - 80))
        #expect((try? FuseRequest.parse(largest)) != nil)
    }

    @Test("names: no NUL, empty, with '/', longer than 255 bytes (a symlink target: 4095) are refused")
    func badNames() {
        #expect(throws: FuseParseError.nameNotTerminated(opcode: 1)) { try FuseRequest.parse(fuseRequest(1, Array("abc".utf8))) }
        #expect(throws: FuseParseError.nameNotTerminated(opcode: 1)) { try FuseRequest.parse(fuseRequest(1)) }
        #expect(throws: FuseParseError.emptyName(opcode: 1)) { try FuseRequest.parse(fuseRequest(1, [0])) }
        #expect(throws: FuseParseError.nameContainsSlash(opcode: 1)) { try FuseRequest.parse(fuseRequest(1, fuseName("../etc"))) }
        #expect(throws: FuseParseError.nameContainsSlash(opcode: 10)) { try FuseRequest.parse(fuseRequest(10, fuseName("/"))) }
        #expect(throws: FuseParseError.nameContainsSlash(opcode: 12)) {
            try FuseRequest.parse(fuseRequest(12, fuse64(1) + fuseName("a") + fuseName("b/c")))
        }
        let long = String(repeating: "n", count: 256)
        #expect(throws: FuseParseError.nameTooLong(opcode: 9, length: 256)) { try FuseRequest.parse(fuseRequest(9, fuse32(0, 0) + fuseName(long))) }
        #expect(fuseParse(9, fuse32(0, 0) + fuseName(String(long.dropFirst()))) != nil, "255 bytes is NAME_MAX")
        #expect(throws: FuseParseError.nameTooLong(opcode: 22, length: 256)) { try FuseRequest.parse(fuseRequest(22, fuse32(0, 0) + fuseName(long))) }
        #expect(throws: FuseParseError.emptyName(opcode: 6)) { try FuseRequest.parse(fuseRequest(6, fuseName("l") + [0])) }
        #expect(throws: FuseParseError.nameNotTerminated(opcode: 6)) { try FuseRequest.parse(fuseRequest(6, fuseName("l"))) }
        let target = String(repeating: "t/", count: 2048)
        #expect(throws: FuseParseError.nameTooLong(opcode: 6, length: 4096)) { try FuseRequest.parse(fuseRequest(6, fuseName("l") + fuseName(target))) }
        #expect(fuseParse(6, fuseName("l") + fuseName(String(target.dropLast()))) != nil, "4095 bytes fits PATH_MAX with the NUL")
    }

    @Test("every refusal has a description naming the opcode")
    func descriptions() {
        #expect(FuseParseError.bodyTooShort(opcode: 15, needed: 40, got: 3).description == "FUSE read needs 40 argument bytes, has 3")
        #expect(FuseParseError.emptyName(opcode: 999).description.contains("opcode 999"))
    }
}
