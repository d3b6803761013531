import Foundation
import Platform
import Testing

/// AVP's block device server against the Linux virtio_blk driver in a real guest.
@Suite(.serialized) struct BlockInRealGuest {
    /// An image file and `avp serve block` on it.
    struct Disk {
        let image: String
        let socket: String
        let server: ServerProcess

        var device: (String) -> QemuCommandLine.VhostUserDevice {
            { id in .init(model: .block(queues: 1), socketPath: socket, id: id) }
        }

        var allocatedBytes: Int {
            var st = stat()
            stat(image, &st)
            return Int(st.st_blocks) * 512
        }

        func bytes(at offset: Int, count: Int) -> [UInt8] {
            guard let handle = FileHandle(forReadingAtPath: image) else { return [] }
            defer { try? handle.close() }
            try? handle.seek(toOffset: UInt64(offset))
            return [UInt8](handle.readData(ofLength: count))
        }
    }

    func makeDisk(_ dir: String, _ name: String, sizeMiB: Int, contents: [UInt8] = [], options: [String] = []) throws -> Disk {
        let image = dir + "/\(name).img"
        _ = FileManager.default.createFile(atPath: image, contents: Data(contents))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: image))
        try handle.truncate(atOffset: UInt64(sizeMiB) << 20)
        try handle.close()
        let socket = dir + "/\(name).sock"
        let server = try ServerProcess(arguments: ["serve", "block", "--socket", socket, "--file", image] + options,
                                       logPath: dir + "/\(name).log")
        try server.waitForSocket(socket)
        return Disk(image: image, socket: socket, server: server)
    }

    static let knownPattern = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    @Test("AVPS-v2.0-4/5/6: features in sysfs, ext4 made, checked and read back, cache mode switched, read-only enforced",
          arguments: [QemuCommandLine.Machine.q35, .microvm])
    func linuxDriverUsesTheDisk(machine: QemuCommandLine.Machine) throws {
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("blk-\(machine)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rw = try makeDisk(dir, "rw", sizeMiB: 128, options: ["--serial", "AVP-RW-0001"])
        let ro = try makeDisk(dir, "ro", sizeMiB: 8, contents: Self.knownPattern, options: ["--read-only", "--serial", "AVP-RO-0002"])
        defer { rw.server.stop(); ro.server.stop() }

        let script = #"""
            b=/sys/block
            for f in queue/write_cache queue/discard_max_bytes queue/write_zeroes_max_bytes serial cache_type ro; do
              echo "vda.$f=$(cat $b/vda/$f)"
            done
            echo "vdb.ro=$(cat $b/vdb/ro)"
            echo "vdb.serial=$(cat $b/vdb/serial)"
            # ext4: make, fill, check, read back.
            mkfs.ext4 -q -F /dev/vda || exit 20
            mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d || exit 21
            for i in 1 2 3; do head -c 3145728 /dev/urandom > /mnt/d/file$i; done
            (cd /mnt/d && md5sum file1 file2 file3) > /tmp/sums
            umount /mnt/d || exit 22
            e2fsck -fn /dev/vda > /tmp/fsck.log 2>&1; echo "fsck=$?"
            mount -t ext4 /dev/vda /mnt/d || exit 23
            (cd /mnt/d && md5sum -c /tmp/sums) > /dev/null 2>&1; echo "readback=$?"
            umount /mnt/d
            # Write cache: write through, then a direct write, then back to write back.
            echo "write through" > $b/vda/cache_type
            echo "after.cache_type=$(cat $b/vda/cache_type)"
            echo "after.write_cache=$(cat $b/vda/queue/write_cache)"
            dd if=/dev/urandom of=/dev/vda bs=4096 count=4 seek=100 oflag=direct 2>/dev/null
            echo "write back" > $b/vda/cache_type
            # Read-only disk: known contents; writes fail even after BLKROSET (the kernel refuses them
            # itself for a VIRTIO_BLK_F_RO disk; the device's own IOERR is proven by DeviceTests).
            echo "vdb.md5=$(head -c 1048576 /dev/vdb | md5sum | cut -d' ' -f1)"
            blockdev --setrw /dev/vdb
            dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null; echo "vdb.write=$?"
            """#
        var boot = GuestBoot(machine: machine)
        boot.devices = [rw.device("vda"), ro.device("vdb")]
        boot.tools = ["mkfs.ext4", "e2fsck"]
        let console = try boot.run(script: script, in: dir)
        #expect(console.testExitStatus == 0, "console:\n\(console.text.suffix(4000))")
        #expect(console.value("vda.queue/write_cache") == "write back")
        #expect(console.value("vda.cache_type") == "write back")
        #expect(Int(console.value("vda.queue/discard_max_bytes") ?? "") ?? 0 > 0)
        #expect(Int(console.value("vda.queue/write_zeroes_max_bytes") ?? "") ?? 0 > 0)
        #expect(console.value("vda.serial") == "AVP-RW-0001")
        #expect(console.value("vdb.serial") == "AVP-RO-0002")
        #expect(console.value("vdb.ro") == "1")
        #expect(console.value("fsck") == "0")
        #expect(console.value("readback") == "0")
        #expect(console.value("after.cache_type") == "write through")
        #expect(console.value("after.write_cache") == "write through")
        #expect(console.value("vdb.md5") == Insecure.md5Hex(Self.knownPattern))
        #expect(console.value("vdb.write") != "0")

        rw.server.stop()
        ro.server.stop()
        let rwStats = rw.server.statistics
        #expect(rwStats["flushes", default: 0] > 0, "ext4 and mkfs flush: \(rwStats)")
        #expect(rwStats["cache_mode_changes"] == 2, "\(rwStats)")
        #expect(rwStats["writethrough_writes", default: 0] >= 4, "\(rwStats)")
        #expect(ro.bytes(at: 0, count: 1 << 20) == Self.knownPattern)
    }

    @Test("AVPS-v2.0-7 and WRITE_ZEROES: blkdiscard frees host blocks; zeroed ranges read back as zeroes")
    func discardAndWriteZeroesReachTheImage() throws {
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("blk-discard")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let disk = try makeDisk(dir, "d", sizeMiB: 64)
        defer { disk.server.stop() }
        let script = #"""
            dd if=/dev/urandom of=/dev/vda bs=1M count=32 oflag=direct conv=fsync 2>/dev/null || exit 20
            echo WRITTEN; sleep 4
            /usr/local/bin/blkdiscard -o 0 -l 16777216 /dev/vda || exit 21
            sync; echo DISCARDED; sleep 4
            # BLKZEROOUT: WRITE_ZEROES without unmap (the blocks stay allocated).
            /usr/local/bin/blkdiscard -z -o 16777216 -l 4194304 /dev/vda || exit 22
            # Punching a hole in the block device: WRITE_ZEROES with unmap.
            /usr/local/bin/fallocate --punch-hole -o 20971520 -l 4194304 /dev/vda || exit 23
            echo "zeroes=$(dd if=/dev/vda bs=1M skip=16 count=8 iflag=direct 2>/dev/null | tr -d '\000' | wc -c)"
            echo "discarded=$(dd if=/dev/vda bs=1M skip=0 count=16 iflag=direct 2>/dev/null | tr -d '\000' | wc -c)"
            echo "kept=$(dd if=/dev/vda bs=1M skip=24 count=8 iflag=direct 2>/dev/null | tr -d '\000' | wc -c)"
            """#
        var boot = GuestBoot()
        boot.devices = [disk.device("vda")]
        boot.tools = ["blkdiscard", "fallocate"]
        let (qemu, console) = try boot.start(script: script, in: dir)
        #expect(console.waitFor("WRITTEN", timeoutSeconds: GuestHarness.guestTimeout, while: { qemu.isRunning }))
        let written = disk.allocatedBytes
        #expect(console.waitFor("DISCARDED", timeoutSeconds: 60, while: { qemu.isRunning }))
        let discarded = disk.allocatedBytes
        #expect(qemu.wait(timeoutSeconds: 120) != nil)
        let zeroed = disk.allocatedBytes
        #expect(console.testExitStatus == 0, "console:\n\(console.text.suffix(3000))")
        #expect(written >= 32 << 20, "allocated after writing 32 MiB: \(written)")
        #expect(discarded <= written - (15 << 20), "after discarding 16 MiB: \(written) -> \(discarded)")
        #expect(zeroed <= discarded - (3 << 20), "write zeroes with unmap frees blocks too: \(discarded) -> \(zeroed)")
        #expect(console.value("zeroes") == "0" && console.value("discarded") == "0")
        #expect(Int(console.value("kept") ?? "") ?? 0 > 8_000_000)
        #expect(disk.bytes(at: 16 << 20, count: 8 << 20).allSatisfy { $0 == 0 })
        disk.server.stop()
        #expect(disk.server.statistics["discards", default: 0] > 0 && disk.server.statistics["write_zeroes", default: 0] > 0,
                "\(disk.server.statistics)")
    }

    /// A completed flush (write back) or write (write through) survives SIGKILL of QEMU and the server.
    @Test("AVPS-v2.0-5/6: acknowledged data is in the image after QEMU and the server are killed")
    func durableAcrossKill() throws {
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("blk-durable")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let back = try makeDisk(dir, "wb", sizeMiB: 32, options: ["--cache", "writeback"])
        let through = try makeDisk(dir, "wt", sizeMiB: 32, options: ["--cache", "writethrough"])
        let script = #"""
            head -c 4194304 /dev/urandom > /tmp/a; head -c 4194304 /dev/urandom > /tmp/b
            echo "a=$(md5sum < /tmp/a | cut -d' ' -f1)"; echo "b=$(md5sum < /tmp/b | cut -d' ' -f1)"
            echo "vdb.write_cache=$(cat /sys/block/vdb/queue/write_cache)"
            # Write back: the data is durable once fsync (a FLUSH) completes.
            dd if=/tmp/a of=/dev/vda bs=1M seek=8 conv=fsync 2>/dev/null || exit 20
            # Write through: no flush at all; a completed direct write is durable.
            dd if=/tmp/b of=/dev/vdb bs=1M seek=8 oflag=direct 2>/dev/null || exit 21
            echo DURABLE
            sleep 600
            """#
        var boot = GuestBoot()
        boot.devices = [back.device("vda"), through.device("vdb")]
        let (qemu, console) = try boot.start(script: script, in: dir)
        #expect(console.waitFor("DURABLE", timeoutSeconds: GuestHarness.guestTimeout, while: { qemu.isRunning }),
                "console:\n\(console.text.suffix(3000))")
        // Crash everything at once.
        qemu.kill()
        back.server.kill()
        through.server.kill()
        #expect(console.value("vdb.write_cache") == "write through")
        #expect(Insecure.md5Hex(back.bytes(at: 8 << 20, count: 4 << 20)) == console.value("a"))
        #expect(Insecure.md5Hex(through.bytes(at: 8 << 20, count: 4 << 20)) == console.value("b"))
    }
}
