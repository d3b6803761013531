import Foundation
import Platform
import Testing

/// `avp serve fs --uid-map/--gid-map` under Linux's virtiofs ({AVPS-v2.0-50}: a share whose guest
/// root is not the host's root): guest ids 0..999 are host ids 100000..100999, which no host user
/// needs to own (the test runs as root, and so does the sandboxed server). What the guest creates
/// is the host's 100000, a host file outside the range is 65534 ("nobody") in the guest, and an
/// unmapped id can neither create (EOVERFLOW) nor be given by chown (EINVAL) — what a user
/// namespace with the same uid_map would answer.
@Suite(.serialized) struct FsMappingInRealGuest {
    static let base: UInt32 = 100_000
    static let count: UInt32 = 1000
    static var map: String { "0:\(base):\(count)" }

    /// busybox sh as the guest's root. `guest` (uid and gid 2000) is outside the map; busybox su
    /// needs no password from root.
    static let script = """
        mkdir -p /mnt/share
        mount -t virtiofs share /mnt/share || { echo "FAIL: mount status $?"; exit 10; }
        cd /mnt/share
        echo "whoami=$(id -u):$(id -g)"
        echo created > created.txt && mkdir made && ln -s created.txt link || { echo "FAIL: create"; exit 11; }
        echo "created=$(stat -c %u:%g created.txt) $(stat -c %u:%g made) $(stat -c %u:%g link)"
        echo "hostroot=$(stat -c %u:%g hostroot.txt)"
        echo "hostmapped=$(stat -c %u:%g hostmapped.txt)"
        echo "edges=$(stat -c %u:%g first.txt) $(stat -c %u:%g last.txt) $(stat -c %u:%g beyond.txt)"
        chown 1000 created.txt 2>/tmp/err; echo "chownuid=$? $(cat /tmp/err)"
        chown 0:5000 created.txt 2>/tmp/err; echo "chowngid=$? $(cat /tmp/err)"
        chown 7:8 made || { echo "FAIL: chown to mapped ids"; exit 12; }
        echo "chowned=$(stat -c %u:%g made)"
        echo 'guest:x:2000:2000::/:/bin/sh' >> /etc/passwd && echo 'guest:x:2000:' >> /etc/group
        su -s /bin/sh guest -c 'id -u; echo x > /mnt/share/open/unmapped.txt' >/tmp/out 2>&1; echo "unmapped=$? $(tr '\\n' ' ' </tmp/out)"
        cd / && umount /mnt/share
        """

    /// The share: host files owned by ids inside, at the edges of and outside the map, and a
    /// directory everyone may write to (so only the map can refuse the unmapped user).
    static func makeShare(_ share: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: share + "/open", withIntermediateDirectories: true)
        try fm.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: share + "/open")
        let owners: [(String, UInt32, UInt32)] = [("hostroot.txt", 0, 0), ("hostmapped.txt", base + 7, base + 8), ("first.txt", base, base),
                                                   ("last.txt", base + count - 1, base + count - 1), ("beyond.txt", base + count, base + count)]
        for (name, uid, gid) in owners {
            try "host".write(toFile: share + "/" + name, atomically: false, encoding: .utf8)
            guard chown(share + "/" + name, uid, gid) == 0 else { throw PlatformError.launchFailed("chown \(name): errno \(errno)") }
        }
    }

    /// "uid:gid" of `path` itself (lstat: a symlink's own owner).
    static func owner(_ path: String) -> String {
        var st = stat()
        return lstat(path, &st) == 0 ? "\(st.st_uid):\(st.st_gid)" : "errno \(errno)"
    }

    @Test("AVPS-v2.0-50 with --uid-map/--gid-map 0:100000:1000: the guest's root creates as host 100000, host root shows as 65534, unmapped ids are refused",
          .runningTimeLimit(minutes: 5))
    func mappedOwners() throws {
        let dir = try GuestHarness.workDirectory("fs-map")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = dir + "/share"
        try Self.makeShare(share)
        let run = try FsGuestRun.run(in: dir, share: share, serverArguments: ["--uid-map", Self.map, "--gid-map", Self.map], script: Self.script)
        let (console, server, context) = (run.console, run.server, run.context)
        defer { server.stop() }
        try #require(console.testExitStatus == 0, "\(context)")
        let b = Self.base
        #expect(console.value("whoami") == "0:0")
        #expect(console.value("created") == "0:0 0:0 0:0", "\(context)")
        #expect(Self.owner(share + "/created.txt") == "\(b):\(b)" && Self.owner(share + "/made") == "\(b + 7):\(b + 8)"
                && Self.owner(share + "/link") == "\(b):\(b)", "the guest's root is host \(b) (made was chowned to 7:8 afterwards)")
        #expect(console.value("hostroot") == "65534:65534", "host root is outside the map")
        #expect(console.value("hostmapped") == "7:8")
        #expect(console.value("edges") == "0:0 999:999 65534:65534", "first and last mapped host ids, and the one just beyond")
        #expect(console.value("chownuid")?.hasPrefix("1 ") == true && console.value("chownuid")?.contains("Invalid argument") == true,
                "chown to unmapped uid 1000: \(console.value("chownuid") ?? "-")")
        #expect(console.value("chowngid")?.hasPrefix("1 ") == true && console.value("chowngid")?.contains("Invalid argument") == true,
                "chown to unmapped gid 5000: \(console.value("chowngid") ?? "-")")
        #expect(Self.owner(share + "/created.txt") == "\(b):\(b)", "a refused chown changed nothing")
        #expect(console.value("chowned") == "7:8")
        let unmapped = console.value("unmapped") ?? "-"
        #expect(!unmapped.hasPrefix("0 ") && unmapped.contains("2000") && unmapped.contains("Value too large"),
                "uid 2000 creating in a directory anyone may write: \(unmapped)")
        #expect(!FileManager.default.fileExists(atPath: share + "/open/unmapped.txt"), "nothing created for an unmapped uid")
        #expect(server.log.contains("uids \(Self.map), gids \(Self.map)"), "\(server.log.suffix(1000))")
    }
}
