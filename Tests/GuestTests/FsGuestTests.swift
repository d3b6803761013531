import CAVPShim
import Foundation
import Platform
import SystemCalls
import Testing

/// `avp serve fs` against Linux's virtiofs (Debian's 6.12 kernel: virtiofs built in) under QEMU
/// 10.0's stock vhost-user-fs-pci ({AVPS-v2.0-50}, VIRTIO 1.2 §5.11). The host prepares a share
/// next to a directory the guest must never reach; the guest reads, writes, renames, links, sets
/// xattrs, maps files, syncs, changes metadata and tries to get out; the host checks what it sees.
/// The guest has scripts/guest-image's fs-tools layer (fio, stress-ng, setfattr, getfattr).
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
        # What the host set: an xattr, a mode and an mtime.
        echo "hostxattr=$(getfattr --only-values -n user.host hello.txt 2>&1)"
        echo "hostmeta=$(stat -c '%a %Y' hello.txt)"
        if [ "$1" = ro ]; then
            touch created.txt 2>/tmp/err; echo "touch=$? $(cat /tmp/err)"
            setfattr -n user.avp -v x hello.txt 2>/tmp/err; echo "rosetfattr=$? $(cat /tmp/err)"
            exit 0
        fi
        # xattrs: set, read back, remove, list (the host checks them with getxattr/listxattr).
        echo x > xattr.txt && setfattr -n user.avp -v guest-value xattr.txt && setfattr -n user.gone -v soon xattr.txt &&
            setfattr -x user.gone xattr.txt || { echo "FAIL: setfattr"; exit 14; }
        echo "xattr=$(getfattr --only-values -n user.avp xattr.txt 2>&1)"
        echo "xattrgone=$(getfattr --only-values -n user.gone xattr.txt 2>&1)"
        echo "xattrlist=$(getfattr --absolute-names -m - xattr.txt 2>&1 | sed '/^#/d;/^$/d' | tr '\\n' ,)"
        # mmap: fio reads the host's fio-written file through a mapping, checking each 64 KiB
        # block's md5; then writes a file through a mapping (and reads it back) for the host to check.
        rwts() { sed -n 's/.*issued rwts: total=\\([0-9,]*\\).*/\\1/p' /tmp/fio; }
        fio --name=mmapread --filename=mmap.bin --rw=read --bs=64k --size=4m --verify=md5 --ioengine=mmap \\
            --verify_state_save=0 >/tmp/fio 2>&1; echo "mmapread=$? $(rwts) $(grep -c 'verify failed' /tmp/fio)"
        echo "mmapmd5=$(md5sum mmap.bin | cut -d' ' -f1)"
        fio --name=mmapwrite --filename=guestmmap.bin --rw=write --bs=64k --size=2m --verify=md5 --ioengine=mmap \\
            --verify_state_save=0 >/tmp/fio 2>&1; echo "mmapwrite=$? $(rwts)"
        echo "guestmmapmd5=$(md5sum guestmmap.bin | cut -d' ' -f1)"
        # fsync: dd's one at the end, fio's after every 4 KiB write.
        dd if=/dev/urandom of=synced.bin bs=4096 count=16 conv=fsync 2>/dev/null; echo "ddfsync=$? $(md5sum synced.bin | cut -d' ' -f1)"
        fio --name=fsync --filename=fsync.bin --rw=write --bs=4k --size=256k --fsync=1 --ioengine=psync \\
            --verify_state_save=0 >/tmp/fio 2>&1; echo "fiofsync=$? $(rwts)"
        # Metadata the host must see.
        echo meta > meta.txt && chmod 0640 meta.txt && touch -d '2001-02-03 04:05:06' meta.txt || { echo "FAIL: metadata"; exit 15; }
        echo "meta=$(stat -c '%a %Y' meta.txt)"
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
        /// What QEMU printed: why a guest that wrote nothing ended.
        var qemuLog: String { (try? String(contentsOfFile: root + "/qemu.log", encoding: .utf8)) ?? "" }

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
            try HostFile.setXattr(share + "/hello.txt", "user.host", "from the host")
            try fm.setAttributes([.posixPermissions: 0o604, .modificationDate: Date(timeIntervalSince1970: 1_015_218_367)],
                                 ofItemAtPath: share + "/hello.txt")
            // 4 MiB in 64 KiB blocks, each with fio's header and the md5 of its contents.
            let fio = try HostFile.fio(["--name=host", "--filename=\(share)/mmap.bin", "--rw=write", "--bs=64k", "--size=4m",
                                        "--verify=md5", "--do_verify=0", "--ioengine=psync", "--verify_state_save=0"])
            try #require(fio.status == 0, "host fio: \(fio.output)")
        }
    }

    func run(_ share: Share, readOnly: Bool, script: String = Self.script, extraFiles: [String: [UInt8]] = [:],
             timeoutSeconds: Double = GuestHarness.guestTimeout) throws -> (ConsoleLog, ServerProcess) {
        try GuestHarness.checkPrerequisites()
        try GuestImage.backports.ensureBuilt()
        let image = try GuestImage.backports.withFsTools(at: share.root + "/initramfs-fs-tools")
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
        try image.initrd(withScript: "set -- \(readOnly ? "ro" : "rw")\n" + script, extraFiles: extraFiles, at: command.initrd)
        let qemu = try QemuProcess(command: command, outputPath: share.root + "/qemu.log")
        defer { qemu.kill() }
        if qemu.wait(timeoutSeconds: timeoutSeconds) == nil { Issue.record("guest timed out after \(Int(timeoutSeconds)) s") }
        return (ConsoleLog(path: share.root + "/console.log"), server)
    }

    /// What a failure shows: the guest's console, the server's log and QEMU's.
    static func context(_ console: ConsoleLog, _ server: ServerProcess, _ share: Share) -> String {
        "console:\n\(console.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))\nQEMU:\n\(share.qemuLog.suffix(1500))"
    }

    @Test("AVPS-v2.0-50: a guest mounts the share, reads host files bit-exact, writes, renames, links, sets xattrs, maps, syncs and changes metadata the host sees; nothing outside is reachable",
          .runningTimeLimit(minutes: 5))
    func readWrite() throws {
        let dir = try GuestHarness.workDirectory("fs-rw")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = try Share(dir)
        let (console, server) = try run(share, readOnly: false)
        defer { server.stop() }
        let context = Self.context(console, server, share)
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
        try checkXattrsMmapSyncMetadata(share, console, context: "server:\n\(server.log.suffix(1500))")
    }

    /// The rw script's xattr, mmap, fsync and metadata lines, and what the host sees of them.
    func checkXattrsMmapSyncMetadata(_ share: Share, _ console: ConsoleLog, context: String) throws {
        let s = share.share
        #expect(console.value("hostxattr") == "from the host" && console.value("hostmeta") == "604 1015218367",
                "hostxattr=\(console.value("hostxattr") ?? "-") hostmeta=\(console.value("hostmeta") ?? "-")")
        #expect(console.value("xattr") == "guest-value" && HostFile.xattr(s + "/xattr.txt", "user.avp") == .value("guest-value"),
                "xattr=\(console.value("xattr") ?? "-"), host: \(HostFile.xattr(s + "/xattr.txt", "user.avp")); \(context)")
        #expect(console.value("xattrgone") == "xattr.txt: user.gone: No such attribute"
                && HostFile.xattr(s + "/xattr.txt", "user.gone") == .error(ENODATA),
                "xattrgone=\(console.value("xattrgone") ?? "-"), host: \(HostFile.xattr(s + "/xattr.txt", "user.gone"))")
        #expect(console.value("xattrlist") == "user.avp," && HostFile.xattrNames(s + "/xattr.txt") == ["user.avp"],
                "xattrlist=\(console.value("xattrlist") ?? "-"), host: \(HostFile.xattrNames(s + "/xattr.txt"))")
        let mmap = try [UInt8](Data(contentsOf: URL(fileURLWithPath: s + "/mmap.bin")))
        #expect(console.value("mmapread") == "0 64,0,0,0 0" && console.value("mmapmd5") == Insecure.md5Hex(mmap),
                "mmapread=\(console.value("mmapread") ?? "-") (status, reads, verify failures) mmapmd5=\(console.value("mmapmd5") ?? "-")")
        #expect(console.value("mmapwrite") == "0 32,32,0,0", "mmapwrite=\(console.value("mmapwrite") ?? "-") (status, reads, writes)")
        let check = try HostFile.fio(["--name=check", "--filename=\(s)/guestmmap.bin", "--rw=read", "--bs=64k", "--size=2m",
                                      "--verify=md5", "--ioengine=psync", "--verify_state_save=0"])
        let guestMmap = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: s + "/guestmmap.bin")))) ?? []
        #expect(check.status == 0 && guestMmap.count == 2 << 20 && console.value("guestmmapmd5") == Insecure.md5Hex(guestMmap),
                "what the guest wrote through a mapping, verified on the host: \(check.output.suffix(800))")
        let synced = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: s + "/synced.bin")))) ?? []
        #expect(synced.count == 65536 && console.value("ddfsync") == "0 " + Insecure.md5Hex(synced), "ddfsync=\(console.value("ddfsync") ?? "-")")
        let fsynced = (try? FileManager.default.attributesOfItem(atPath: s + "/fsync.bin")[.size] as? Int) ?? -1
        #expect(console.value("fiofsync") == "0 0,64,0,63" && fsynced == 262_144,
                "fiofsync=\(console.value("fiofsync") ?? "-") (status, reads, writes, trims, syncs), host size \(fsynced); \(context)")
        let meta = try? FileManager.default.attributesOfItem(atPath: s + "/meta.txt")
        #expect(console.value("meta") == "640 981173106" && (meta?[.posixPermissions] as? Int) == 0o640
                && (meta?[.modificationDate] as? Date)?.timeIntervalSince1970 == 981_173_106,
                "meta=\(console.value("meta") ?? "-"), host: \(String(describing: meta?[.posixPermissions])) \(String(describing: meta?[.modificationDate]))")
    }

    @Test("a read-only share reads (xattrs too) and refuses writes and setxattr with EROFS", .runningTimeLimit(minutes: 5))
    func readOnly() throws {
        let dir = try GuestHarness.workDirectory("fs-ro")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = try Share(dir)
        let (console, server) = try run(share, readOnly: true)
        defer { server.stop() }
        try #require(console.testExitStatus == 0, "\(Self.context(console, server, share))")
        #expect(console.value("hello") == "hello from the host" && console.value("big") == Insecure.md5Hex(share.big))
        #expect(console.value("touch")?.contains("Read-only file system") == true, "\(console.value("touch") ?? "-")")
        #expect(!FileManager.default.fileExists(atPath: share.share + "/created.txt"))
        #expect(console.value("hostxattr") == "from the host" && console.value("hostmeta") == "604 1015218367")
        #expect(console.value("rosetfattr")?.contains("Read-only file system") == true && HostFile.xattrNames(share.share + "/hello.txt") == ["user.host"],
                "rosetfattr=\(console.value("rosetfattr") ?? "-")")
    }

    static let stressScript = """
        mkdir -p /mnt/share
        mount -t virtiofs share /mnt/share || { echo "FAIL: mount status $?"; exit 10; }
        mkdir /mnt/share/stress && sh /avp/fs-stress /mnt/share/stress 3 || exit 11
        cd / && umount /mnt/share
        """

    @Test("stress-ng's file-system stressors (scripts/fs-stress) with --verify on the share: none fails",
          .runningTimeLimit(minutes: 8))
    func stressNg() throws {
        let dir = try GuestHarness.workDirectory("fs-stress")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = try Share(dir)
        let (console, server) = try run(share, readOnly: false, script: Self.stressScript,
                                        extraFiles: ["avp/fs-stress": try FsStress.script()], timeoutSeconds: 360)
        defer { server.stop() }
        let results = FsStress.results(console.text)
        try #require(console.testExitStatus == 0 && results.done != nil,
                     "\(Self.context(console, server, share))")
        let failed = results.stressors.filter { $0.outcome == "failed" }
        #expect(failed.isEmpty, "failed on the AVP share:\n\(failed.map(\.report).joined(separator: "\n"))\nserver:\n\(server.log.suffix(2000))\nQEMU:\n\(share.qemuLog.suffix(1500))")
        #expect(results.stressors.count == FsStress.count && results.stressors.filter { $0.outcome == "passed" }.count >= FsStress.count / 2,
                "\(results.done ?? "-"): \(results.stressors.map { "\($0.name) \($0.outcome)" })")
    }
}

/// scripts/fs-stress (stress-ng's file-system stressors, one at a time) and its output.
enum FsStress {
    static func script() throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return [UInt8](try Data(contentsOf: root.appendingPathComponent("scripts/fs-stress")))
    }

    /// How many stressors the script's list has (its lines between "list='" and the closing quote).
    static var count: Int {
        let text = String(decoding: (try? script()) ?? [], as: UTF8.self)
        guard let start = text.range(of: "list='"), let end = text[start.upperBound...].firstIndex(of: "'") else { return -1 }
        return text[start.upperBound..<end].split(separator: "\n").count
    }

    struct Stressor {
        let name: String, outcome: String, report: String
    }

    /// "FS-STRESS NAME OUTCOME rc=… ops=… SECONDS" lines with their "FS-STRESS-MSG NAME: …" lines, and the DONE line.
    static func results(_ text: String) -> (stressors: [Stressor], done: String?) {
        var stressors: [Stressor] = [], done: String?
        for line in text.components(separatedBy: .newlines).map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) {
            let words = line.split(separator: " ").map(String.init)
            if words.first == "FS-STRESS", words.count >= 3 {
                stressors.append(Stressor(name: words[1], outcome: words[2], report: line))
            } else if words.first == "FS-STRESS-MSG", let last = stressors.popLast() {
                stressors.append(Stressor(name: last.name, outcome: last.outcome, report: last.report + "\n  " + line))
            } else if words.first == "FS-STRESS-DONE" {
                done = line
            }
        }
        return (stressors, done)
    }
}

/// Host-side views of the share's files: xattrs with glibc's f*xattr calls (through CAVPShim's
/// one-line wrappers: Swift's Glibc module lacks sys/xattr.h), and the host's fio.
enum HostFile {
    enum Xattr: Equatable { case value(String), error(Int32) }

    private static func withDescriptor<T>(_ path: String, _ body: (Int32) -> T, else failure: (Int32) -> T) -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return failure(errno) }
        defer { close(fd) }
        return body(fd)
    }

    static func xattr(_ path: String, _ name: String) -> Xattr {
        withDescriptor(path, { fd in
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = avp_fgetxattr(fd, name, &buffer, buffer.count)
            return n < 0 ? .error(errno) : .value(String(decoding: buffer[..<n], as: UTF8.self))
        }, else: { .error($0) })
    }

    static func xattrNames(_ path: String) -> [String] {
        withDescriptor(path, { fd in
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = avp_flistxattr(fd, &buffer, buffer.count)
            guard n > 0 else { return [] }
            return buffer[..<n].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }.sorted()
        }, else: { _ in [] })
    }

    static func setXattr(_ path: String, _ name: String, _ value: String) throws {
        let bytes = Array(value.utf8)
        let status = withDescriptor(path, { avp_fsetxattr($0, name, bytes, bytes.count, 0) == 0 ? 0 : errno }, else: { $0 })
        guard status == 0 else { throw PlatformError.launchFailed("setxattr \(name) on \(path): errno \(status)") }
    }

    /// The host's fio (scripts/host-setup installs it) with `arguments`: its status and output.
    static func fio(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["fio"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationStatus == 127 ? "no fio on the host (scripts/host-setup installs it)" : output)
    }
}

extension GuestImage {
    /// This image with scripts/guest-image's fs-tools layer (fio, stress-ng, setfattr, getfattr; backports
    /// flavour) after its initramfs, written to `path`.
    func withFsTools(at path: String) throws -> GuestImage {
        let layer = URL(fileURLWithPath: initramfs).deletingLastPathComponent().appendingPathComponent("fs-tools.cpio.gz").path
        guard FileManager.default.fileExists(atPath: layer) else {
            throw PlatformError.missingFile(layer, fix: "build it: \(flavour.buildCommand)")
        }
        var data = try Data(contentsOf: URL(fileURLWithPath: initramfs))
        data.append(contentsOf: [UInt8](repeating: 0, count: (512 - data.count % 512) % 512))
        data.append(try Data(contentsOf: URL(fileURLWithPath: layer)))
        try data.write(to: URL(fileURLWithPath: path))
        return GuestImage(kernel: kernel, initramfs: path, pvhKernel: pvhKernel, flavour: flavour)
    }
}
