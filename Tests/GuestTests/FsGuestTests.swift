import Foundation
import Platform
import SystemCalls
import Testing

/// `avp serve fs` against Linux's virtiofs (Debian's 6.12 kernel: virtiofs built in) under QEMU
/// 10.0's stock vhost-user-fs-pci ({AVPS-v2.0-50}, VIRTIO 1.2 §5.11). The host prepares a share
/// next to a directory the guest must never reach; the guest reads, writes, renames, links and
/// tries to get out; the host checks what it sees.
@Suite(.serialized) struct FsInRealGuest {
    static let script = """
        mkdir -p /mnt/share
        mount -t virtiofs share /mnt/share || { echo "FAIL: mount status $?"; exit 10; }
        cd /mnt/share
        echo "hello=$(cat hello.txt)"
        echo "big=$(md5sum big.bin | cut -d' ' -f1)"
        echo "names=$(ls -a | tr '\\n' ,)"
        echo "link=$(readlink link) $(cat link)"
        echo "nested=$(cat sub/deeper/file.txt)"
        # Ways out: the guest's own ".." stays in the guest; a symlink to a host path names a guest path.
        echo "dotdot=$(ls .. | tr '\\n' ,)"
        echo "escape=$(cat escape 2>&1 | head -c 80)"
        echo "secret=$(cat ../\(Self.outsideName)/secret.txt 2>&1 | head -c 80)"
        if [ "$1" = ro ]; then
            touch created.txt 2>/tmp/err; echo "touch=$? $(cat /tmp/err)"
            exit 0
        fi
        echo guest-data > new.txt || { echo "FAIL: write"; exit 11; }
        mkdir newdir && mv new.txt newdir/moved.txt && ln newdir/moved.txt hard && ln -s moved.txt newdir/sym || { echo "FAIL: names"; exit 12; }
        dd if=/dev/urandom of=written.bin bs=65536 count=48 2>/dev/null && sync
        echo "written=$(md5sum written.bin | cut -d' ' -f1)"
        dd if=/dev/zero of=big.bin bs=1 count=0 seek=1000 2>/dev/null
        echo "truncated=$(stat -c %s big.bin)"
        echo "hardlinks=$(stat -c %h hard)"
        rm hello.txt && rmdir sub/deeper/empty || { echo "FAIL: remove"; exit 13; }
        echo "after=$(ls | tr '\\n' ,)"
        cd / && umount /mnt/share
        """

    static let outsideName = "outside"

    struct Share {
        let root: String, share: String, outside: String
        let big: [UInt8]

        init(_ dir: String) throws {
            root = dir
            share = dir + "/share"
            outside = dir + "/" + FsInRealGuest.outsideName
            let fm = FileManager.default
            try fm.createDirectory(atPath: share + "/sub/deeper/empty", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try "host secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
            try "hello from the host".write(toFile: share + "/hello.txt", atomically: true, encoding: .utf8)
            try "three levels down".write(toFile: share + "/sub/deeper/file.txt", atomically: true, encoding: .utf8)
            big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
            try Data(big).write(to: URL(fileURLWithPath: share + "/big.bin"))
            try fm.createSymbolicLink(atPath: share + "/link", withDestinationPath: "hello.txt")
            try fm.createSymbolicLink(atPath: share + "/escape", withDestinationPath: outside + "/secret.txt")
        }
    }

    func run(_ share: Share, readOnly: Bool) throws -> (ConsoleLog, ServerProcess) {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.backports
        try image.ensureBuilt()
        let socket = share.root + "/fs.sock"
        let server = try ServerProcess(arguments: ["serve", "fs", "--socket", socket, "--shared-dir", share.share] + (readOnly ? ["--read-only"] : []),
                                       logPath: share.root + "/server.log")
        try server.waitForSocket(socket)
        var command = QemuCommandLine(kernel: image.kernel(for: .q35), initrd: share.root + "/initrd")
        command.qemu = GuestHarness.qemu
        command.accelerator = AcceleratorProbe.choose(qemu: GuestHarness.qemu, image: image)
        command.tscKHz = HostCPU.tscKHz()
        command.serial = .file(share.root + "/console.log")
        command.vhostUserDevices = [.init(model: .fs(tag: "share"), socketPath: socket, id: "fs0")]
        try image.initrd(withScript: "set -- \(readOnly ? "ro" : "rw")\n" + Self.script, at: command.initrd)
        let qemu = try QemuProcess(command: command, outputPath: share.root + "/qemu.log")
        defer { qemu.kill() }
        _ = qemu.wait(timeoutSeconds: GuestHarness.guestTimeout)
        return (ConsoleLog(path: share.root + "/console.log"), server)
    }

    @Test("AVPS-v2.0-50: a guest mounts the share, reads host files bit-exact, writes, renames and links; nothing outside is reachable",
          .timeLimit(.minutes(5)))
    func readWrite() throws {
        let dir = try GuestHarness.workDirectory("fs-rw")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = try Share(dir)
        let (console, server) = try run(share, readOnly: false)
        defer { server.stop() }
        let context = "console:\n\(console.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))"
        try #require(console.testExitStatus == 0, "\(context)")
        #expect(console.value("hello") == "hello from the host")
        #expect(console.value("big") == Insecure.md5Hex(share.big), "the 3 MiB file read back")
        #expect(console.value("names")?.hasPrefix(".,..,") == true && console.value("names")?.contains("sub,") == true, "\(console.value("names") ?? "")")
        #expect(console.value("link") == "hello.txt hello from the host")
        #expect(console.value("nested") == "three levels down")
        #expect(console.value("escape")?.contains("No such file") == true, "the host path means nothing in the guest: \(console.value("escape") ?? "")")
        #expect(console.value("secret")?.contains("host secret") == false)
        let fm = FileManager.default
        #expect((try? String(contentsOfFile: share.share + "/newdir/moved.txt", encoding: .utf8)) == "guest-data\n")
        #expect((try? fm.destinationOfSymbolicLink(atPath: share.share + "/newdir/sym")) == "moved.txt")
        #expect(console.value("hardlinks") == "2")
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: share.share + "/written.bin")))
        #expect(written.count == 48 * 65536 && console.value("written") == Insecure.md5Hex(written), "what the guest wrote is on the host")
        #expect(console.value("truncated")?.hasSuffix("1000") == true && (try? fm.attributesOfItem(atPath: share.share + "/big.bin")[.size] as? Int) == 1000,
                "truncated=\(console.value("truncated") ?? "-"); server:\n\(server.log.suffix(1500))")
        #expect(!fm.fileExists(atPath: share.share + "/hello.txt") && !fm.fileExists(atPath: share.share + "/sub/deeper/empty"))
        #expect((try? String(contentsOfFile: share.outside + "/secret.txt", encoding: .utf8)) == "host secret"
                && (try? fm.contentsOfDirectory(atPath: share.outside)) == ["secret.txt"], "nothing outside the share changed")
    }

    @Test("a read-only share reads and refuses writes with EROFS", .timeLimit(.minutes(5)))
    func readOnly() throws {
        let dir = try GuestHarness.workDirectory("fs-ro")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = try Share(dir)
        let (console, server) = try run(share, readOnly: true)
        defer { server.stop() }
        try #require(console.testExitStatus == 0, "console:\n\(console.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))")
        #expect(console.value("hello") == "hello from the host" && console.value("big") == Insecure.md5Hex(share.big))
        #expect(console.value("touch")?.contains("Read-only file system") == true, "\(console.value("touch") ?? "-")")
        #expect(!FileManager.default.fileExists(atPath: share.share + "/created.txt"))
    }
}
