@testable import Devices
import Foundation
import SystemCalls
import Testing

/// FUSE_HANDLE_KILLPRIV_V2: the guest leaves clearing set-user-ID and set-group-ID to the server
/// when a caller without CAP_FSETID writes, truncates or chowns; the flags that say so are parsed,
/// and the store clears the bits Linux would (set-group-ID only with group execute) and no others.
@Suite struct FsSetIDClearing {
    let share: String

    init() throws {
        share = temporaryShare("setid")
        try FileManager.default.createDirectory(atPath: share, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: share) }

    /// A file `name` with `mode`, and its node in `store`.
    func file(_ store: PassthroughStore, _ name: String, mode: mode_t) throws -> UInt64 {
        try "data".write(toFile: share + "/" + name, atomically: false, encoding: .utf8)
        guard chmod(share + "/" + name, mode) == 0 else { throw Errno(errno, call: "chmod") }
        return try store.lookup(1, Array(name.utf8)).node
    }

    func mode(_ name: String) -> mode_t {
        var st = stat()
        return stat(share + "/" + name, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    @Test("the parser reads FUSE_OPEN_KILL_SUIDGID (OPEN, CREATE) and the negotiation serves HANDLE_KILLPRIV_V2")
    func wire() {
        #expect(fuseParse(14, fuse32(0o1001, 1)) == .open(flags: 0o1001, killSuidgid: true))
        #expect(fuseParse(14, fuse32(0o1001, 0)) == .open(flags: 0o1001, killSuidgid: false))
        #expect(fuseParse(35, fuse32(0o1101, 0o644, 0o022, 1) + fuseName("a")) == .create(name: Array("a".utf8), flags: 0o1101, mode: 0o644, umask: 0o022, killSuidgid: true))
        let outcome = FuseNegotiation().negotiate(major: 7, minor: 38, maxReadahead: 0, flags: FuseInitFlags.handleKillprivV2.rawValue)
        guard case let .accepted(reply) = outcome else { Issue.record("refused: \(outcome)"); return }
        #expect(reply.flags.contains(.handleKillprivV2))
    }

    @Test("a write, an O_TRUNC open and a truncating or chowning SETATTR with the flag clear set-ID; without it nothing changes")
    func clearing() throws {
        defer { cleanUp() }
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false)
        let both = try file(store, "both", mode: 0o6775), lockingGid = try file(store, "locking", mode: 0o6745)
        let kept = try file(store, "kept", mode: 0o6775), opened = try file(store, "opened", mode: 0o6775)
        let truncated = try file(store, "truncated", mode: 0o4755), chowned = try file(store, "chowned", mode: 0o2775)
        for node in [both, lockingGid] {
            let handle = try store.open(node, flags: UInt32(O_WRONLY))
            _ = try store.write(handle, offset: 0, data: [1][...], killSuidgid: true)
            store.release(handle)
        }
        #expect(mode("both") == 0o775, "set-user-ID and, with group execute, set-group-ID go")
        #expect(mode("locking") == 0o2745, "set-group-ID without group execute stays (mandatory locking)")
        let plain = try store.open(kept, flags: UInt32(O_WRONLY))
        _ = try store.write(plain, offset: 0, data: [1][...])
        store.release(plain)
        #expect(mode("kept") == 0o6775, "a caller with CAP_FSETID keeps them")
        store.release(try store.open(opened, flags: UInt32(O_WRONLY | O_TRUNC), killSuidgid: true))
        #expect(mode("opened") == 0o775)
        _ = try store.setAttributes(truncated, mode: nil, owner: (nil, nil), size: 0, handle: nil, times: (nil, nil), killSuidgid: true)
        #expect(mode("truncated") == 0o755)
        _ = try store.setAttributes(chowned, mode: nil, owner: (getuid(), nil), size: nil, handle: nil, times: (nil, nil), killSuidgid: true)
        #expect(mode("chowned") == 0o775)
    }
}
