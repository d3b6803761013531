@testable import Devices
import Foundation
import SystemCalls
import Testing

/// The share's boundary: every name is one component opened relative to its parent's
/// descriptor without following symlinks, so nothing outside the shared directory is reached,
/// whatever names a guest sends or the host swaps in between its requests.
@Suite struct PassthroughStoreBoundary {
    let root: String, share: String, outside: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("avp-fs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        share = root + "/share"
        outside = root + "/outside"
        try FileManager.default.createDirectory(atPath: share + "/d", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        try "inside".write(toFile: share + "/d/file.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: share + "/out", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: share + "/secret", withDestinationPath: outside + "/secret.txt")
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }


    @Test("'.' and '..' are refused as names; symlinks are nodes of their own, never followed into another directory or file")
    func namesAndSymlinks() throws {
        defer { cleanUp() }
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false)
        #expect(errnoCode { _ = try store.lookup(1, Array("..".utf8)) } == EINVAL)
        #expect(errnoCode { _ = try store.lookup(1, Array(".".utf8)) } == EINVAL)
        #expect(errnoCode { _ = try store.mkdir(1, Array("..".utf8), mode: 0o755, owner: (0, 0)) } == EINVAL)
        let out = try store.lookup(1, Array("out".utf8))
        #expect(out.stat.st_mode & S_IFMT == S_IFLNK)
        #expect(errnoCode { _ = try store.lookup(out.node, Array("secret.txt".utf8)) } == ENOTDIR, "a symlink is not a directory to look in")
        #expect(errnoCode { _ = try store.openDirectory(out.node) } == ENOTDIR)
        let secret = try store.lookup(1, Array("secret".utf8))
        #expect(errnoCode { _ = try store.open(secret.node, flags: UInt32(O_RDONLY)) } == ELOOP, "a symlink is never opened through")
        #expect(errnoCode { _ = try store.getAttribute(secret.node, Array("user.x".utf8), size: 0) } == ENOTSUP)
        #expect(errnoCode { _ = try store.link(secret.node, to: 1, Array("hard".utf8)) } == nil, "a hard link to the symlink itself")
        #expect(try store.readlink(secret.node) == Array((outside + "/secret.txt").utf8), "the guest reads the target and resolves it itself")
        #expect(errnoCode { _ = try store.mknod(1, Array("dev".utf8), mode: S_IFCHR | 0o600, device: 0x0101, owner: (0, 0)) } == EPERM)
        #expect(errnoCode { try store.rename(1, Array("d".utf8), to: 1, Array("e".utf8), flags: 4) } == EINVAL, "RENAME_WHITEOUT")
    }

    @Test("a directory swapped for a symlink on the host between two requests: the node still means the original directory")
    func swappedDirectory() throws {
        defer { cleanUp() }
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false)
        let d = try store.lookup(1, Array("d".utf8))
        try FileManager.default.moveItem(atPath: share + "/d", toPath: share + "/moved")
        try FileManager.default.createSymbolicLink(atPath: share + "/d", withDestinationPath: outside)
        #expect(errnoCode { _ = try store.lookup(d.node, Array("secret.txt".utf8)) } == ENOENT, "the lookup stays in the original directory")
        let inside = try store.lookup(d.node, Array("file.txt".utf8))
        let handle = try store.open(inside.node, flags: UInt32(O_RDONLY))
        #expect(try store.read(handle, offset: 0, size: 100) == Array("inside".utf8))
        let again = try store.lookup(1, Array("d".utf8))
        #expect(again.stat.st_mode & S_IFMT == S_IFLNK && errnoCode { _ = try store.lookup(again.node, Array("secret.txt".utf8)) } == ENOTDIR)
    }

    @Test("read-only: every change is EROFS; unknown nodes and handles are ESTALE and EBADF; FORGET frees nodes; bounds hold")
    func refusals() throws {
        defer { cleanUp() }
        let ro = try PassthroughStore(sharedDirectory: share, readOnly: true, maxNodes: 3, maxHandles: 1)
        let d = try ro.lookup(1, Array("d".utf8))
        let file = try ro.lookup(d.node, Array("file.txt".utf8))
        #expect(errnoCode { _ = try ro.open(file.node, flags: UInt32(O_WRONLY)) } == EROFS)
        #expect(errnoCode { _ = try ro.open(file.node, flags: UInt32(O_RDONLY | O_TRUNC)) } == EROFS)
        #expect(errnoCode { _ = try ro.create(1, Array("new".utf8), flags: UInt32(O_WRONLY), mode: 0o644, owner: (0, 0)) } == EROFS)
        #expect(errnoCode { try ro.unlink(d.node, Array("file.txt".utf8), directory: false) } == EROFS)
        #expect(errnoCode { _ = try ro.setAttributes(file.node, mode: 0o777, owner: (nil, nil), size: nil, handle: nil, times: (nil, nil)) } == EROFS)
        #expect(errnoCode { try ro.setAttribute(file.node, Array("user.x".utf8), value: [1], flags: 0) } == EROFS)
        #expect(errnoCode { _ = try ro.attributes(999) } == ESTALE)
        #expect(errnoCode { _ = try ro.read(42, offset: 0, size: 1) } == EBADF)
        #expect(errnoCode { _ = try ro.lookup(1, Array("out".utf8)) } == ENFILE, "at most 3 nodes")
        let h = try ro.open(file.node, flags: UInt32(O_RDONLY))
        #expect(errnoCode { _ = try ro.openDirectory(d.node) } == EMFILE, "at most 1 handle")
        ro.release(h)
        ro.forget(file.node, count: 1)
        #expect(errnoCode { _ = try ro.attributes(file.node) } == ESTALE && ro.nodeCount == 2)
        #expect(errnoCode { _ = try ro.lookup(1, Array("out".utf8)) } == nil, "room again")
        ro.forget(1, count: 100)
        #expect(errnoCode { _ = try ro.attributes(1) } == nil, "the root is never forgotten")
    }
}
