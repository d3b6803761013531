@testable import Devices
import Foundation
import SystemCalls
import Testing

/// A share's size and inode limits, kept by the server: counted at start, refused with ENOSPC
/// before a change would go over, freed by deletes, and shown by STATFS.
@Suite struct FsShareLimitsInStore {
    let share: String

    init() throws {
        share = temporaryShare("limits")
        try FileManager.default.createDirectory(atPath: share + "/d", withIntermediateDirectories: true)
        try Data(repeating: 7, count: 8192).write(to: URL(fileURLWithPath: share + "/d/existing"))
        try FileManager.default.linkItem(atPath: share + "/d/existing", toPath: share + "/d/hardlink")
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: share) }


    @Test("the start-up walk counts each file once (hard links too) and its allocated blocks")
    func walk() throws {
        defer { cleanUp() }
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false, limits: FsShareLimits(bytes: 1 << 20, inodes: 100))
        #expect(store.used.inodes == 3, "the root, d and one file with two names")
        #expect(store.used.bytes >= 8192 && store.used.bytes <= 8192 + 2 * 65536)
        let unlimited = try PassthroughStore(sharedDirectory: share, readOnly: false)
        #expect(unlimited.used.inodes == 0, "no walk without limits")
    }

    @Test("bytes: writes that would not fit get ENOSPC, the rest is written; a delete frees its blocks; STATFS shows the limit")
    func bytes() throws {
        defer { cleanUp() }
        let limit: UInt64 = 256 * 1024
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false, limits: FsShareLimits(bytes: limit))
        let start = store.used.bytes
        let file = try store.create(1, Array("big".utf8), flags: UInt32(O_RDWR), mode: 0o644, owner: (0, 0))
        let chunk = [UInt8](repeating: 1, count: 64 * 1024)
        #expect(try store.write(file.handle, offset: 0, data: chunk[...]) == chunk.count)
        #expect(try store.write(file.handle, offset: 0, data: chunk[...]) == chunk.count, "an overwrite needs no room")
        #expect(store.used.bytes >= start + 65536)
        #expect(errnoCode { _ = try store.write(file.handle, offset: 65536, data: [UInt8](repeating: 2, count: Int(limit))[...]) } == ENOSPC)
        #expect(errnoCode { try store.fallocate(file.handle, offset: 0, length: limit * 2, mode: 0) } == ENOSPC)
        let s = try store.statfs()
        #expect(UInt64(s.f_blocks) * UInt64(s.f_frsize) <= limit && UInt64(s.f_blocks) * UInt64(s.f_frsize) > limit - UInt64(s.f_frsize))
        #expect(UInt64(s.f_bfree) * UInt64(s.f_frsize) <= limit - store.used.bytes + UInt64(s.f_frsize))
        store.release(file.handle)
        try store.unlink(1, Array("big".utf8), directory: false)
        #expect(store.used.bytes == start, "the file's blocks are free again")
        let d = try store.lookup(1, Array("d".utf8))
        try store.unlink(d.node, Array("hardlink".utf8), directory: false)
        #expect(store.used.bytes == start, "a name of a file with another name frees nothing")
    }

    @Test("inodes: past the limit files, directories and symlinks get ENOSPC; a delete makes room")
    func inodes() throws {
        defer { cleanUp() }
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false, limits: FsShareLimits(inodes: 5))
        _ = try store.mkdir(1, Array("a".utf8), mode: 0o755, owner: (0, 0))
        let b = try store.create(1, Array("b".utf8), flags: UInt32(O_RDWR), mode: 0o644, owner: (0, 0))
        store.release(b.handle)
        #expect(store.used.inodes == 5)
        #expect(errnoCode { _ = try store.mkdir(1, Array("c".utf8), mode: 0o755, owner: (0, 0)) } == ENOSPC)
        #expect(errnoCode { _ = try store.symlink(1, Array("c".utf8), target: Array("b".utf8), owner: (0, 0)) } == ENOSPC)
        #expect(errnoCode { _ = try store.create(1, Array("c".utf8), flags: UInt32(O_RDWR), mode: 0o644, owner: (0, 0)) } == ENOSPC)
        #expect(errnoCode { _ = try store.link(b.node, to: 1, Array("b2".utf8)) } == nil, "a hard link takes no inode")
        let again = try store.create(1, Array("b".utf8), flags: UInt32(O_RDWR), mode: 0o644, owner: (0, 0))
        store.release(again.handle)
        #expect(store.used.inodes == 5, "opening an existing file through CREATE makes nothing")
        try store.unlink(1, Array("a".utf8), directory: true)
        #expect(errnoCode { _ = try store.mkdir(1, Array("c".utf8), mode: 0o755, owner: (0, 0)) } == nil)
        let s = try store.statfs()
        #expect(s.f_files == 5 && s.f_ffree == 0)
    }
}
