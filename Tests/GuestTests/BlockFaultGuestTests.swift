import Foundation
import Platform
import Testing

/// Host I/O errors under a real guest: the image's own file fails, the guest's virtio_blk driver
/// sees VIRTIO_BLK_S_IOERR for the requests that hit the failure, and the server goes on serving
/// the same device. Real faults, no hook: EIO from a FUSE file with a bad range (`FaultFS`; the
/// host has no device-mapper), ENOSPC from a sparse image larger than the size-limited tmpfs it
/// lives on. Needs root (mount) and /dev/fuse.
@Suite(.serialized) struct BlockFaultsInRealGuest {
    static let badOffset = 16 << 20, badLength = 1 << 20

    @Test("AVPS-v2.0-30/4: EIO and ENOSPC from the host reach the guest as I/O errors; the same disk keeps serving good ranges")
    func hostErrorsReachTheGuest() throws {
        try GuestHarness.checkPrerequisites()
        guard getuid() == 0 else {
            throw PlatformError.launchFailed("block fault tests mount a tmpfs and a FUSE file system: run them as root")
        }
        let dir = try GuestHarness.workDirectory("blk-faults")
        defer { GuestHarness.removeUnlessKept(dir) }

        // EIO: a 64 MiB disk whose bytes 16 MiB to 17 MiB fail.
        let backing = dir + "/backing.img"
        _ = FileManager.default.createFile(atPath: backing, contents: nil)
        try FileHandle(forWritingTo: URL(fileURLWithPath: backing)).truncate(atOffset: 64 << 20)
        let fuse = try FaultFS(backing: backing, mountPoint: dir + "/fuse", faults: [.ioError(offset: Self.badOffset, length: Self.badLength)],
                               logPath: dir + "/faultfs.log")
        defer { fuse.unmount() }
        let eio = try Self.serve(image: fuse.image, name: "eio", in: dir)
        defer { eio.stop() }
        // ENOSPC: a 64 MiB sparse image on a 4 MiB tmpfs.
        let space = try SmallTmpfs(path: dir + "/space", sizeKiB: 4096)
        defer { space.unmount() }
        let full = space.path + "/full.img"
        _ = FileManager.default.createFile(atPath: full, contents: nil)
        try FileHandle(forWritingTo: URL(fileURLWithPath: full)).truncate(atOffset: 64 << 20)
        let enospc = try Self.serve(image: full, name: "enospc", in: dir)
        defer { enospc.stop() }

        let script = #"""
            blk() { dd "$@" bs=4096 2>/dev/null; }
            head -c 1048576 /dev/urandom > /tmp/g; echo "good=$(md5sum < /tmp/g | cut -d' ' -f1)"
            # vda: the bad range (4 KiB blocks 4096 to 4351) fails both ways.
            blk if=/dev/vda of=/dev/null skip=4096 count=1 iflag=direct; echo "eio.read=$?"
            blk if=/dev/zero of=/dev/vda seek=4300 count=1 oflag=direct; echo "eio.write=$?"
            # ... and a read that straddles its start fails, nothing before it does.
            blk if=/dev/vda of=/dev/null skip=4090 count=16 iflag=direct; echo "eio.straddle=$?"
            blk if=/dev/vda of=/dev/null skip=4000 count=96 iflag=direct; echo "eio.before=$?"
            # The same device, no reboot: good ranges on either side are written and read back.
            blk if=/tmp/g of=/dev/vda seek=512 oflag=direct; echo "eio.good-write=$?"
            blk if=/tmp/g of=/dev/vda seek=8192 oflag=direct; echo "eio.after-write=$?"
            echo "eio.good-read=$(blk if=/dev/vda skip=512 count=256 iflag=direct | md5sum | cut -d' ' -f1)"
            echo "eio.after-read=$(blk if=/dev/vda skip=8192 count=256 iflag=direct | md5sum | cut -d' ' -f1)"
            echo "eio.dmesg=$(dmesg | grep -c 'I/O error, dev vda')"
            # vdb: 1 MiB fits in the tmpfs; 8 MiB more do not.
            blk if=/tmp/g of=/dev/vdb oflag=direct; echo "enospc.fits=$?"
            head -c 8388608 /dev/urandom > /tmp/big
            blk if=/tmp/big of=/dev/vdb seek=8192 oflag=direct; echo "enospc.write=$?"
            echo "enospc.dmesg=$(dmesg | grep -c 'I/O error, dev vdb')"
            # The disk goes on: what was written reads back, rewriting it in place needs no space,
            # and once the failed write's blocks are discarded a new write fits again.
            echo "enospc.read=$(blk if=/dev/vdb count=256 iflag=direct | md5sum | cut -d' ' -f1)"
            blk if=/tmp/g of=/dev/vdb oflag=direct; echo "enospc.rewrite=$?"
            blkdiscard -o 33554432 -l 8388608 /dev/vdb; echo "enospc.discard=$?"
            blk if=/tmp/g of=/dev/vdb seek=12288 oflag=direct; echo "enospc.after-discard=$?"
            echo "enospc.after-read=$(blk if=/dev/vdb skip=12288 count=256 iflag=direct | md5sum | cut -d' ' -f1)"
            """#
        var boot = GuestBoot()
        boot.devices = [.init(model: .block(queues: 1), socketPath: eio.socket, id: "vda"),
                        .init(model: .block(queues: 1), socketPath: enospc.socket, id: "vdb")]
        boot.tools = ["blkdiscard"]
        let console = try boot.run(script: script, in: dir)
        let good = console.value("good")
        #expect(console.testExitStatus == 0, "console:\n\(console.text.suffix(4000))")

        #expect(console.value("eio.read") != "0" && console.value("eio.read") != nil, "a read of the bad range fails")
        #expect(console.value("eio.write") != "0" && console.value("eio.write") != nil, "a write to the bad range fails")
        #expect(console.value("eio.straddle") != "0" && console.value("eio.straddle") != nil)
        #expect(console.value("eio.before") == "0")
        #expect(console.value("eio.good-write") == "0" && console.value("eio.after-write") == "0")
        #expect(good != nil && console.value("eio.good-read") == good && console.value("eio.after-read") == good)
        #expect(Int(console.value("eio.dmesg") ?? "") ?? 0 >= 3, "the guest kernel logged the I/O errors")

        #expect(console.value("enospc.fits") == "0")
        #expect(console.value("enospc.write") != "0" && console.value("enospc.write") != nil, "the write beyond the free space fails")
        #expect(Int(console.value("enospc.dmesg") ?? "") ?? 0 >= 1)
        #expect(console.value("enospc.read") == good)
        #expect(console.value("enospc.rewrite") == "0")
        #expect(console.value("enospc.discard") == "0")
        #expect(console.value("enospc.after-discard") == "0" && console.value("enospc.after-read") == good)

        // Both servers lived through it; their statistics count the host failures.
        #expect(eio.server.isRunning && enospc.server.isRunning)
        eio.stop()
        enospc.stop()
        let eioStats = eio.server.statistics, enospcStats = enospc.server.statistics
        #expect(eioStats["io_errors", default: 0] >= 3, "\(eioStats)\n\(eio.server.log.suffix(2000))")
        #expect(enospcStats["io_errors", default: 0] >= 1, "\(enospcStats)\n\(enospc.server.log.suffix(2000))")
        #expect(eio.server.log.contains("errno \(EIO)"), "the server logged why:\n\(eio.server.log.suffix(2000))")
        #expect(enospc.server.log.contains("errno \(ENOSPC)") || enospc.server.log.contains("write moved"),
                "\(enospc.server.log.suffix(2000))")
    }

    struct Served {
        let socket: String
        let server: ServerProcess
        func stop() { server.stop() }
    }

    static func serve(image: String, name: String, in dir: String) throws -> Served {
        let socket = dir + "/\(name).sock"
        // The default engine (io_uring), as in a platform.
        let server = try ServerProcess(arguments: ["serve", "block", "--socket", socket, "--file", image], logPath: dir + "/\(name).log")
        try server.waitForSocket(socket)
        return Served(socket: socket, server: server)
    }
}

/// A tmpfs of a fixed size, mounted for one test: files on it fail with ENOSPC once it is full.
struct SmallTmpfs {
    let path: String

    init(path: String, sizeKiB: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let status = "size=\(sizeKiB)k,mode=0700".withCString { mount("avp-test", path, "tmpfs", 0, $0) }
        guard status == 0 else {
            throw PlatformError.launchFailed("mount tmpfs on \(path): \(String(cString: strerror(errno))) (needs root)")
        }
    }

    func unmount() { _ = umount2(path, Int32(MNT_DETACH)) }
}
