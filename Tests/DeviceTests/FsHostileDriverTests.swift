import AVPTestSupport
import Devices
import Foundation
import Logging
import SystemCalls
import Testing
import VhostUser

/// A front end acting as a hostile virtio-fs driver: malformed, lying, out-of-order and
/// oversized FUSE requests get an error reply (or none where a reply cannot be addressed) and
/// the device goes on serving the same session (VIRTIO 1.2 §5.11; the guest rule).
@Suite(.serialized) struct FsHostileDriver {
    final class Fixture {
        let directory: String
        let server: VhostUserServer
        let driver: GuestDriver

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-fsdev-\(try SystemRandom.uint64())").path
            try FileManager.default.createDirectory(atPath: directory + "/share/d", withIntermediateDirectories: true)
            try "inside".write(toFile: directory + "/share/d/file.txt", atomically: true, encoding: .utf8)
            let store = try PassthroughStore(sharedDirectory: directory + "/share", readOnly: false)
            server = try VhostUserServer(socketPath: directory + "/fs.sock", device: FsDevice(store: store, logger: Logger(label: "test.fs")),
                                         logger: Logger(label: "test.fs"))
            try server.start()
            driver = try GuestDriver.start(socketPath: directory + "/fs.sock", queueSizes: [64, 64], memorySize: 32 << 20)
        }

        deinit {
            server.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// Sends `request` on queue `queue` with `replySize` writable bytes; the reply's bytes (used length).
        func send(_ request: [UInt8], replySize: Int = 4096, queue: Int = 1) throws -> [UInt8] {
            let readable = try driver.allocate(max(1, request.count))
            try readable.write(request)
            let reply = try driver.allocate(max(1, replySize))
            let q = driver.queues[queue]
            let head = try q.ring.add(readable: request.isEmpty ? [] : [readable], writable: replySize > 0 ? [reply] : [])
            q.kick()
            let used = try q.waitForUsed()
            try #require(used.count == 1 && used[0].head == head)
            return try reply.bytes(count: Int(used[0].length))
        }

        /// The reply's error (0 for success), checking its header names the request.
        func status(_ request: [UInt8], replySize: Int = 4096, unique: UInt64 = 0x1122_3344_5566_7788) throws -> Int32? {
            let reply = try send(request, replySize: replySize)
            guard reply.count >= 16 else { return nil }
            #expect(fuseLoad64(reply, 8) == unique && Int(fuseLoad32(reply, 0)) == reply.count)
            return -Int32(bitPattern: fuseLoad32(reply, 4))
        }
    }

    static let initialize = fuseRequest(26, node: 0, fuse32(7, 31, 0x20000, 0))

    @Test("before INIT, malformed, lying, unknown, stale and oversized requests: each its error, and the session goes on")
    func hostileRequests() throws {
        let f = try Fixture()
        #expect(try f.status(fuseRequest(1, node: 1, fuseName("d"))) == EIO, "LOOKUP before INIT")
        #expect(try f.status(Self.initialize) == 0)
        #expect(try f.status(fuseRequest(1, node: 1, fuseName(".."))) == EINVAL, "'..' at the root")
        #expect(try f.status(fuseRequest(1, node: 1, fuseName("d/file.txt"))) == EINVAL, "a name with '/'")
        #expect(try f.status(fuseRequest(1, node: 1, Array("d".utf8))) == EINVAL, "a name without its NUL")
        var lying = fuseRequest(1, node: 1, fuseName("d"))
        lying[0] = 200
        #expect(try f.status(lying) == EINVAL, "a length beyond the request")
        #expect(try f.send(Array(lying.prefix(10))).isEmpty, "a header cut short: nothing to answer")
        #expect(try f.status(fuseRequest(9999, node: 1)) == ENOSYS)
        #expect(try f.status(fuseRequest(3, node: 12345, fuse32(0, 0) + fuse64(0))) == ESTALE, "GETATTR of a node never given out")
        #expect(try f.status(fuseRequest(15, node: 1, fuse64(77, 0) + fuse32(4096, 0, 0, 0) + fuse64(0))) == EBADF, "READ of a handle never opened")
        #expect(try f.send(fuseRequest(3, node: 1, fuse32(0, 0) + fuse64(0)), replySize: 8).isEmpty, "no room for a reply header")
        #expect(try f.send(fuseRequest(15, node: 1, fuse64(1, 0) + fuse32(4096, 0, 0, 0) + fuse64(0)), replySize: 8).isEmpty,
                "READ without room for a reply: nothing done, nothing written")
        // A guest offering a huge buffer and asking for a huge xattr or directory listing gets at most 1 MiB.
        let big = try f.send(fuseRequest(22, node: 1, fuse32(UInt32.max, 0)), replySize: 8 << 20)
        #expect(big.count == 16 && fuseLoad32(big, 4) != 0 || big.count <= 16 + (1 << 20), "listxattr: \(big.count) bytes")
        #expect(try f.status(fuseRequest(3, node: 1, fuse32(0, 0) + fuse64(0)), replySize: 40) == EINVAL, "a reply that does not fit")
        let huge = fuseRequest(16, node: 1, fuse64(1, 0) + fuse32(UInt32(FuseRequest.maxRequestBytes), 0, 0, 0) + fuse64(0)
            + [UInt8](repeating: 0, count: FuseRequest.maxRequestBytes))
        #expect(try f.status(huge) == EINVAL, "a request beyond the largest write")
        // FORGET on the hiprio queue, of nodes never given out and absurd counts: no reply, no harm.
        #expect(try f.send(fuseRequest(2, node: 999, fuse64(UInt64.max)), replySize: 0, queue: 0).isEmpty)
        #expect(try f.send(fuseRequest(2, node: 1, fuse64(UInt64.max)), replySize: 0, queue: 0).isEmpty, "the root is never forgotten")
        // The same session still serves: LOOKUP d, LOOKUP file.txt, OPEN, READ.
        let d = try f.send(fuseRequest(1, node: 1, fuseName("d")))
        try #require(d.count == 16 + 128 && fuseLoad32(d, 4) == 0)
        let file = try f.send(fuseRequest(1, node: fuseLoad64(d, 16), fuseName("file.txt")))
        try #require(file.count == 16 + 128 && fuseLoad32(file, 4) == 0)
        let opened = try f.send(fuseRequest(14, node: fuseLoad64(file, 16), fuse32(UInt32(O_RDONLY), 0)))
        try #require(opened.count == 32)
        let read = try f.send(fuseRequest(15, node: fuseLoad64(file, 16), fuse64(fuseLoad64(opened, 16), 0) + fuse32(100, 0, 0, 0) + fuse64(0)))
        #expect(Array(read.dropFirst(16)) == Array("inside".utf8))
    }

    @Test("LOOKUP of a missing name: a negative entry (node 0, entry valid 1 s) the guest caches, not an ENOENT error")
    func negativeEntry() throws {
        let f = try Fixture()
        #expect(try f.status(Self.initialize) == 0)
        let missing = try f.send(fuseRequest(1, node: 1, fuseName("nothing-here")))
        try #require(missing.count == 16 + 128, "\(missing.count) bytes")
        #expect(fuseLoad32(missing, 4) == 0 && fuseLoad64(missing, 16) == 0 && fuseLoad64(missing, 32) == 1, "status, nodeid, entry_valid")
        #expect(try f.status(fuseRequest(1, node: 1, fuseName(".."))) == EINVAL, "other errors stay errors")
    }
}
