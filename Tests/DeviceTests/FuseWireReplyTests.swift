import Devices
import Glibc
import Testing

// FUSE replies checked byte by byte against the layouts of include/uapi/linux/fuse.h (offsets as
// gcc's offsetof gives them), READDIR(PLUS) packing, and the INIT negotiation with Linux guests.

func fuseLoad32(_ b: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[at + $1]) << (8 * $1) } }
func fuseLoad64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * $1) } }
func fuseLoad16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }

/// Attributes with a distinct value in every field.
let fuseSampleAttributes = FuseAttributes(
    ino: 0x1111, size: 0x2222, blocks: 0x3333, atime: FuseTime(seconds: 0x4444, nanoseconds: 0x7777),
    mtime: FuseTime(seconds: 0x5555, nanoseconds: 0x8888), ctime: FuseTime(seconds: 0x6666, nanoseconds: 0x9999),
    mode: 0o100644, nlink: 0xAAAA, uid: 0xBBBB, gid: 0xCCCC, rdev: 0xDDDD, blksize: 0xEEEE, flags: FuseAttributes.submount)

/// Checks `fuse_attr` at `base`: ino 0, size 8, blocks 16, atime 24, mtime 32, ctime 40, the
/// nanoseconds 48/52/56, mode 60, nlink 64, uid 68, gid 72, rdev 76, blksize 80, flags 84.
func fuseExpectSampleAttributes(_ b: [UInt8], at base: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let words64 = [0, 8, 16, 24, 32, 40].map { fuseLoad64(b, base + $0) }
    #expect(words64 == [0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666], sourceLocation: sourceLocation)
    let words32 = stride(from: 48, to: 88, by: 4).map { fuseLoad32(b, base + $0) }
    #expect(words32 == [0x7777, 0x8888, 0x9999, 0o100644, 0xAAAA, 0xBBBB, 0xCCCC, 0xDDDD, 0xEEEE, 1], sourceLocation: sourceLocation)
}

@Suite struct FuseReplyLayout {
    @Test("fuse_out_header: an error is 16 bytes with -errno; a success is 16 + payload")
    func outHeader() {
        #expect(FuseReply.error(unique: 0x0102_0304_0506_0708, errno: 2)
            == [16, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(FuseReply.ok(unique: 9) == [16, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0])
        #expect(FuseReply.ok(unique: 9, [0xAA, 0xBB, 0xCC]) == [19, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0xAA, 0xBB, 0xCC])
        // errno 0 or out of (0, 512) would read as success or be refused: EIO instead.
        for errno: Int32 in [0, -2, 512, .max] { #expect(fuseLoad32(FuseReply.error(unique: 1, errno: errno), 4) == UInt32(bitPattern: -5)) }
        #expect(fuseLoad32(FuseReply.error(unique: 1, errno: 511), 4) == UInt32(bitPattern: -511))
    }

    @Test("fuse_attr (88), fuse_entry_out (128), fuse_attr_out (104): every field at its offset")
    func attributes() {
        #expect(fuseSampleAttributes.bytes.count == 88 && FuseAttributes.size == 88)
        fuseExpectSampleAttributes(fuseSampleAttributes.bytes, at: 0)
        let entry = FuseEntry(nodeID: 0xA1, generation: 0xA2, entryValidSeconds: 0xA3, entryValidNanoseconds: 0xA5,
                              attrValidSeconds: 0xA4, attrValidNanoseconds: 0xA6, attributes: fuseSampleAttributes)
        let e = entry.bytes
        // nodeid 0, generation 8, entry_valid 16, attr_valid 24, entry_valid_nsec 32, attr_valid_nsec 36, attr 40.
        #expect(e.count == 128 && [0, 8, 16, 24].map { fuseLoad64(e, $0) } == [0xA1, 0xA2, 0xA3, 0xA4])
        #expect(fuseLoad32(e, 32) == 0xA5 && fuseLoad32(e, 36) == 0xA6)
        fuseExpectSampleAttributes(e, at: 40)
        let a = FuseAttrReply(validSeconds: 0xB1, validNanoseconds: 0xB2, attributes: fuseSampleAttributes).bytes
        // attr_valid 0, attr_valid_nsec 8, dummy 12, attr 16.
        #expect(a.count == 104 && fuseLoad64(a, 0) == 0xB1 && fuseLoad32(a, 8) == 0xB2 && fuseLoad32(a, 12) == 0)
        fuseExpectSampleAttributes(a, at: 16)
        let negative = FuseEntry.negative(validSeconds: 5).bytes
        #expect(negative.count == 128 && fuseLoad64(negative, 16) == 5 && negative.enumerated().allSatisfy { $0.offset / 8 == 2 || $0.element == 0 })
    }

    @Test("open_out (16), create (entry_out + open_out, 144), write_out, getxattr_out, lseek_out (8)")
    func smallReplies() {
        let open = FuseOpenReply(handle: 0x0102_0304_0506_0708, flags: FuseOpenReply.keepCache | FuseOpenReply.noFlush).bytes
        #expect(open == [8, 7, 6, 5, 4, 3, 2, 1, 0x22, 0, 0, 0, 0, 0, 0, 0])
        let entry = FuseEntry(nodeID: 3, attributes: fuseSampleAttributes)
        let create = FuseCreateReply(entry: entry, open: FuseOpenReply(handle: 7, flags: FuseOpenReply.directIO)).bytes
        #expect(create.count == 144 && FuseCreateReply.size == 144 && Array(create.prefix(128)) == entry.bytes)
        #expect(fuseLoad64(create, 128) == 7 && fuseLoad32(create, 136) == 1)
        #expect(FuseWriteReply(size: 0x0102_0304).bytes == [4, 3, 2, 1, 0, 0, 0, 0])
        #expect(FuseXattrSizeReply(size: 300).bytes == [0x2C, 1, 0, 0, 0, 0, 0, 0])
        #expect(FuseLseekReply(offset: 0x0102_0304_0506_0708).bytes == [8, 7, 6, 5, 4, 3, 2, 1])
    }

    @Test("fuse_kstatfs (80): blocks 0, bfree 8, bavail 16, files 24, ffree 32, bsize 40, namelen 44, frsize 48, spare zero")
    func statfs() {
        let b = FuseStatfsReply(blocks: 1, freeBlocks: 2, availableBlocks: 3, files: 4, freeFiles: 5, blockSize: 6, nameLength: 7,
                                fragmentSize: 8).bytes
        #expect(b.count == 80 && [0, 8, 16, 24, 32].map { fuseLoad64(b, $0) } == [1, 2, 3, 4, 5])
        #expect([40, 44, 48, 52].map { fuseLoad32(b, $0) } == [6, 7, 8, 0] && b[56...].allSatisfy { $0 == 0 })
        var host = statvfs()
        #expect(statvfs("/", &host) == 0)
        let fromHost = FuseStatfsReply(statvfs: host)
        #expect(fromHost.blocks == UInt64(host.f_blocks) && fromHost.nameLength == UInt32(host.f_namemax)
            && fromHost.fragmentSize == UInt32(host.f_frsize) && fromHost.blockSize == UInt32(host.f_bsize))
    }

    @Test("fuse_init_out (64): flags at 12 and flags2 at 32, the limits between them")
    func initReply() {
        let b = FuseInitReply(major: 7, minor: 38, maxReadahead: 0x20000, flags: FuseInitFlags(flags: 0x4044_F029, flags2: 0x100),
                              maxBackground: 0x1234, congestionThreshold: 0x5678, maxWrite: 1 << 20, timeGranularity: 1,
                              maxPages: 256, mapAlignment: 12).bytes
        #expect(b.count == 64 && [0, 4, 8, 12].map { fuseLoad32(b, $0) } == [7, 38, 0x20000, 0x4044_F029])
        #expect(fuseLoad16(b, 16) == 0x1234 && fuseLoad16(b, 18) == 0x5678 && fuseLoad32(b, 20) == 1 << 20 && fuseLoad32(b, 24) == 1)
        #expect(fuseLoad16(b, 28) == 256 && fuseLoad16(b, 30) == 12 && fuseLoad32(b, 32) == 0x100 && b[36...].allSatisfy { $0 == 0 })
    }

    @Test("attributes from a host stat: times with nanoseconds, mode with its type, rdev in new_encode_dev form")
    func fromStat() {
        var s = stat()
        s.st_ino = 77; s.st_size = 5000; s.st_blocks = 16; s.st_mode = 0o20620; s.st_nlink = 1; s.st_uid = 1000; s.st_gid = 5
        s.st_blksize = 4096
        s.st_mtim = timespec(tv_sec: 1_700_000_000, tv_nsec: 123_456_789)
        s.st_atim = timespec(tv_sec: -1, tv_nsec: 5)
        s.st_rdev = 0x0000_0000_0000_8801   // glibc makedev(0x88, 1)
        var a = FuseAttributes(stat: s)
        #expect(a.ino == 77 && a.size == 5000 && a.blocks == 16 && a.mode == 0o20620 && a.uid == 1000 && a.gid == 5 && a.blksize == 4096)
        #expect(a.mtime == FuseTime(seconds: 1_700_000_000, nanoseconds: 123_456_789))
        #expect(a.atime == FuseTime(seconds: UInt64.max, nanoseconds: 5), "a time before the epoch keeps its sign bits")
        #expect(a.rdev == 0x8801)
        // makedev(259, 0x12345) in glibc's 64-bit dev_t; Linux new_encode_dev gives 0x12310345.
        s.st_rdev = 0x45 | (259 << 8) | (0x123 << 20)
        a = FuseAttributes(stat: s)
        #expect(a.rdev == FuseAttributes.encodeDevice(major: 259, minor: 0x12345) && a.rdev == 0x1231_0345)
        #expect(FuseAttributes.directoryType(mode: 0o40755) == 4 && FuseAttributes.directoryType(mode: 0o120777) == 10)
    }
}

@Suite struct FuseDirectoryPacking {
    @Test("READDIR: fuse_dirent (ino, off, namelen, type, name) padded to 8; \"a\" takes 32 bytes")
    func readdir() {
        var p = FuseDirectoryPacker(size: 4096, plus: false)
        let tookA = p.append(name: Array("a".utf8), inode: 0x10, offset: 1, type: 4, entry: nil)
        #expect(tookA)
        let tookLong = p.append(name: Array("abcdefgh".utf8), inode: 0x11, offset: 2, type: 8, entry: nil)
        #expect(tookLong)
        let b = p.bytes
        #expect(b.count == 32 + 32 && p.count == 2)
        #expect(fuseLoad64(b, 0) == 0x10 && fuseLoad64(b, 8) == 1 && fuseLoad32(b, 16) == 1 && fuseLoad32(b, 20) == 4)
        #expect(b[24] == UInt8(ascii: "a") && b[25..<32].allSatisfy { $0 == 0 })
        #expect(fuseLoad64(b, 32) == 0x11 && fuseLoad32(b, 48) == 8 && Array(b[56..<64]) == Array("abcdefgh".utf8))
    }

    @Test("READDIRPLUS: fuse_entry_out then the dirent, name at 152; \"a\" takes 160 bytes; nil entry is node ID 0")
    func readdirplus() {
        var p = FuseDirectoryPacker(size: 4096, plus: true)
        let entry = FuseEntry(nodeID: 42, generation: 0, entryValidSeconds: 1, attrValidSeconds: 1, attributes: fuseSampleAttributes)
        let tookA = p.append(name: Array("a".utf8), inode: 0x1111, offset: 7, type: 8, entry: entry)
        #expect(tookA)
        let tookDotDot = p.append(name: Array("..".utf8), inode: 2, offset: 8, type: 4, entry: nil)
        #expect(tookDotDot)
        let b = p.bytes
        #expect(b.count == 160 + 160)
        #expect(Array(b[0..<128]) == entry.bytes)
        #expect(fuseLoad64(b, 128) == 0x1111 && fuseLoad64(b, 136) == 7 && fuseLoad32(b, 144) == 1 && fuseLoad32(b, 148) == 8)
        #expect(b[152] == UInt8(ascii: "a") && b[153..<160].allSatisfy { $0 == 0 })
        #expect(b[160..<288].allSatisfy { $0 == 0 }, "no entry information: node ID 0, nothing counted")
        #expect(fuseLoad64(b, 288) == 2 && Array(b[312..<314]) == Array("..".utf8))
        #expect(FuseDirectoryPacker.recordSize(nameLength: 8, plus: true) == 160
            && FuseDirectoryPacker.recordSize(nameLength: 9, plus: true) == 168)
    }

    @Test("the size limit: a record that does not fit is refused whole; an exact fit is taken")
    func limit() {
        var p = FuseDirectoryPacker(size: 319, plus: true)
        let tookFirst = p.append(name: [0x61], inode: 1, offset: 1, type: 8, entry: nil)
        #expect(tookFirst)
        let tookSecond = p.append(name: [0x62], inode: 2, offset: 2, type: 8, entry: nil)
        #expect(!tookSecond)
        #expect(p.bytes.count == 160 && p.count == 1)
        var exact = FuseDirectoryPacker(size: 320, plus: true)
        let exactFirst = exact.append(name: [0x61], inode: 1, offset: 1, type: 8, entry: nil)
        #expect(exactFirst)
        let exactSecond = exact.append(name: [0x62], inode: 2, offset: 2, type: 8, entry: nil)
        #expect(exactSecond)
        let exactThird = exact.append(name: [0x63], inode: 3, offset: 3, type: 8, entry: nil)
        #expect(!exactThird && exact.bytes.count == 320)
        var tiny = FuseDirectoryPacker(size: 31, plus: false)
        let tookA = tiny.append(name: [0x61], inode: 1, offset: 1, type: 8, entry: nil)
        #expect(!tookA && tiny.isEmpty && tiny.bytes.isEmpty)
    }
}

@Suite struct FuseInitNegotiation {
    /// What Linux 6.1 and 6.12 offer on a virtiofs mount without DAX.
    static let offered = FuseInitFlags(flags: 0x7BFF_FFFB, flags2: 0).rawValue
    /// ASYNC_READ, ATOMIC_O_TRUNC, BIG_WRITES, AUTO_INVAL_DATA, DO_READDIRPLUS, READDIRPLUS_AUTO, ASYNC_DIO,
    /// PARALLEL_DIROPS, MAX_PAGES, HANDLE_KILLPRIV_V2.
    static let served: UInt32 = 0x1044_F029

    @Test("Linux 6.1 (7.37, flags 0x7BFFFFFB, no flags2): 7.37, the served flags, 1 MiB writes in 256 pages")
    func linux61() throws {
        let request = try FuseRequest.parse(fuseRequest(26, node: 0, fuse32(7, 37, 0x20000, 0x7BFF_FFFB, 0) + [UInt8](repeating: 0, count: 44)))
        let outcome = try #require(FuseNegotiation().negotiate(request.1))
        let reply = try #require(outcome.accepted)
        #expect(reply == FuseInitReply(major: 7, minor: 37, maxReadahead: 0x20000, flags: FuseInitFlags(rawValue: UInt64(Self.served)),
                                       maxBackground: 64, congestionThreshold: 48, maxWrite: 1 << 20, timeGranularity: 1, maxPages: 256))
        #expect(!reply.flags.contains(.writebackCache) && !reply.flags.contains(.exportSupport) && !reply.flags.contains(.initExtension))
        let bytes = outcome.reply(unique: 3)
        #expect(bytes.count == 80 && fuseLoad32(bytes, 0) == 80 && fuseLoad32(bytes, 4) == 0 && fuseLoad64(bytes, 8) == 3)
        #expect(fuseLoad32(bytes, 16 + 12) == Self.served && fuseLoad32(bytes, 16 + 32) == 0)
    }

    @Test("Linux 6.12 (7.41, INIT_EXT, flags2 0x1DD): 7.38; flags2 and INIT_EXT only when a flags2 bit is served")
    func linux612() throws {
        let flags = FuseInitFlags(flags: 0x7BFF_FFFB, flags2: 0x1DD).rawValue
        let reply = try #require(FuseNegotiation().negotiate(major: 7, minor: 41, maxReadahead: 0x20000, flags: flags).accepted)
        #expect(reply.minor == 38 && reply.flags.rawValue == UInt64(Self.served))
        var idmap = FuseNegotiation()
        idmap.supported.insert(.allowIdmap)
        let extended = try #require(idmap.negotiate(major: 7, minor: 41, maxReadahead: 0, flags: flags).accepted)
        #expect(extended.flags.flags == Self.served | 0x4000_0000 && extended.flags.flags2 == 0x100)
        #expect(fuseLoad32(extended.bytes, 12) == 0x5044_F029 && fuseLoad32(extended.bytes, 32) == 0x100)
        // Without INIT_EXT from the guest there is no flags2 to answer.
        let old = try #require(idmap.negotiate(major: 7, minor: 37, maxReadahead: 0, flags: flags & ~0x4000_0000).accepted)
        #expect(old.flags.flags2 == 0 && !old.flags.contains(.initExtension))
    }

    @Test("versions: major 7 below 7.31 and majors below 7 refused with EPROTO; a newer major gets 7.38 alone")
    func versions() throws {
        let n = FuseNegotiation()
        #expect(n.negotiate(major: 7, minor: 30, maxReadahead: 0, flags: Self.offered) == .refused(errno: 71))
        #expect(n.negotiate(major: 6, minor: 99, maxReadahead: 0, flags: Self.offered) == .refused(errno: 71))
        #expect(n.negotiate(major: 7, minor: 30, maxReadahead: 0, flags: 0).reply(unique: 4) == FuseReply.error(unique: 4, errno: 71))
        #expect(n.negotiate(major: 8, minor: 0, maxReadahead: 0, flags: Self.offered) == .proposeOlderMajor(FuseInitReply(major: 7, minor: 38)))
        #expect(n.negotiate(major: 7, minor: 31, maxReadahead: 0, flags: 0).accepted?.minor == 31)
        #expect(n.negotiate(.destroy) == nil)
        // Only what the guest offers: without MAX_PAGES there is no page count to give.
        let plain = try #require(n.negotiate(major: 7, minor: 38, maxReadahead: 0, flags: 0x21).accepted)
        #expect(plain.flags.rawValue == 0x21 && plain.maxPages == 0)
    }
}
