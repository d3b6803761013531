import Foundation
import Platform
import Testing

/// `avp serve fs --size-limit/--inode-limit` under Linux's virtiofs: the guest's df shows the
/// limits as the file system's size and inode count, writes past the size and files past the inode
/// count fail with ENOSPC, and deleting makes room again — what a guest would see on a small disk.
@Suite(.serialized) struct FsLimitsInRealGuest {
    static let script = """
        mkdir -p /mnt/share
        mount -t virtiofs share /mnt/share || { echo "FAIL: mount status $?"; exit 10; }
        cd /mnt/share
        echo "df=$(df -k /mnt/share | tail -1 | awk '{print $2}')"
        echo "dfi=$(df -i /mnt/share | tail -1 | awk '{print $2}')"
        dd if=/dev/zero of=big bs=1M count=12 conv=fsync 2>/tmp/err; echo "dd=$? $(grep -o 'No space left on device' /tmp/err | head -1)"
        echo "bigsize=$(stat -c %s big)"
        rm big && dd if=/dev/zero of=again bs=1M count=6 conv=fsync 2>/tmp/err; echo "again=$? $(cat /tmp/err | tail -1)"
        i=0; made=0; while [ $i -lt 40 ]; do touch f$i 2>/tmp/err && made=$((made+1)); i=$((i+1)); done
        echo "made=$made $(grep -o 'No space left on device' /tmp/err | head -1)"
        mkdir dir 2>/tmp/err; echo "mkdir=$? $(grep -o 'No space left on device' /tmp/err)"
        rm f0 f1 && mkdir dir; echo "mkdir2=$?"
        cd / && umount /mnt/share
        """

    @Test("AVPS-v2.0-50 with --size-limit 8M --inode-limit 24: df shows them, a 12 MiB write and the 25th inode get ENOSPC, deleting makes room",
          .runningTimeLimit(minutes: 5))
    func limits() throws {
        let dir = try GuestHarness.workDirectory("fs-limits")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = dir + "/share"
        try FileManager.default.createDirectory(atPath: share + "/old", withIntermediateDirectories: true)
        try "kept".write(toFile: share + "/old/kept.txt", atomically: false, encoding: .utf8)
        let run = try FsGuestRun.run(in: dir, share: share, serverArguments: ["--size-limit", "8M", "--inode-limit", "24"], script: Self.script)
        let (console, server, context) = (run.console, run.server, run.context)
        defer { server.stop() }
        try #require(console.testExitStatus == 0, "\(context)")
        #expect(console.value("df") == "8192", "df's size in KiB is the limit: \(context)")
        #expect(console.value("dfi") == "24")
        #expect(console.value("dd")?.hasPrefix("1 No space left on device") == true, "\(console.value("dd") ?? "-")")
        let written = Int(console.value("bigsize") ?? "") ?? -1
        #expect(written > 0 && written <= 8 << 20, "what fit was written, no more: \(written)")
        #expect(console.value("again")?.hasPrefix("0 ") == true, "the deleted file's room is free again: \(console.value("again") ?? "-")")
        // The root, old, old/kept.txt and again hold 4 of the 24 inodes.
        #expect(console.value("made") == "20 No space left on device", "\(console.value("made") ?? "-")")
        #expect(console.value("mkdir") == "1 No space left on device")
        #expect(console.value("mkdir2") == "0")
        #expect(server.log.contains("limited to 8192 KiB and 24 inodes"), "\(server.log.suffix(1000))")
    }
}
