import Foundation
import Platform
import Testing

/// Set-user-ID and set-group-ID under Linux's virtiofs with FUSE_HANDLE_KILLPRIV_V2 served: the
/// guest no longer clears them itself, the server must, exactly as a local file system would —
/// a write, an O_TRUNC open or a truncate by a user without CAP_FSETID clears set-user-ID, and
/// set-group-ID where group execute is set; root (CAP_FSETID) keeps them. Checked on the host.
@Suite(.serialized) struct FsSetIDInRealGuest {
    static let script = """
        mkdir -p /mnt/share
        mount -t virtiofs share /mnt/share || { echo "FAIL: mount status $?"; exit 10; }
        echo 'guest:x:2000:2000::/:/bin/sh' >> /etc/passwd && echo 'guest:x:2000:' >> /etc/group
        as_guest() { su -s /bin/sh guest -c "$1" || { echo "FAIL: $1"; exit 11; }; }
        as_guest 'echo more >> /mnt/share/appended'
        as_guest 'echo more >> /mnt/share/locking'
        as_guest 'echo new > /mnt/share/opened'
        as_guest 'truncate -s 1 /mnt/share/truncated'
        echo more >> /mnt/share/byroot || { echo "FAIL: root append"; exit 12; }
        echo "guestview=$(stat -c %a /mnt/share/appended)"
        umount /mnt/share
        """

    /// Host files, world-writable so the guest's unprivileged user may write them.
    static let modes: [(String, mode_t)] = [("appended", 0o6777), ("locking", 0o2766), ("opened", 0o6777), ("truncated", 0o6777), ("byroot", 0o4777)]

    static func mode(_ path: String) -> String {
        var st = stat()
        return stat(path, &st) == 0 ? String(st.st_mode & 0o7777, radix: 8) : "errno \(errno)"
    }

    @Test("AVPS-v2.0-50: an unprivileged guest user's write, O_TRUNC open and truncate clear set-ID bits on the host as Linux would; root's write keeps them",
          .runningTimeLimit(minutes: 5))
    func setIDBits() throws {
        let dir = try GuestHarness.workDirectory("fs-setid")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let share = dir + "/share"
        try FileManager.default.createDirectory(atPath: share, withIntermediateDirectories: true)
        for (name, mode) in Self.modes {
            try "data\n".write(toFile: share + "/" + name, atomically: false, encoding: .utf8)
            guard chmod(share + "/" + name, mode) == 0 else { throw PlatformError.launchFailed("chmod \(name): errno \(errno)") }
        }
        let run = try FsGuestRun.run(in: dir, share: share, serverArguments: [], script: Self.script)
        defer { run.server.stop() }
        try #require(run.console.testExitStatus == 0, "\(run.context)")
        #expect(Self.mode(share + "/appended") == "777", "write by uid 2000: both bits go")
        #expect(Self.mode(share + "/locking") == "2766", "set-group-ID without group execute stays")
        #expect(Self.mode(share + "/opened") == "777", "O_TRUNC open by uid 2000")
        #expect(Self.mode(share + "/truncated") == "777", "truncate by uid 2000")
        #expect(Self.mode(share + "/byroot") == "4777", "root has CAP_FSETID")
        #expect(run.console.value("guestview") == "777", "the guest sees it too")
        // "fs: FUSE 7.41 guest, session 7.38, flags 1044f029": the guest took HANDLE_KILLPRIV_V2 (bit 28), so
        // it was the server that cleared the bits above, not the guest with SETATTRs of its own.
        let flags = run.server.log.split(separator: "\n").first { $0.contains("session 7.") }?.split(separator: " ").last.flatMap { UInt64($0, radix: 16) }
        #expect(flags.map { $0 & (1 << 28) != 0 } == true, "\(run.server.log.suffix(500))")
    }
}
