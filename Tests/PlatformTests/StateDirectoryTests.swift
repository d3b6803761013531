import Foundation
import Platform
import Testing

/// The state directory under /tmp is private, and only the kernel's word (the supervisor
/// lock) says which process is a platform's supervisor.
@Suite struct PrivateStateDirectories {
    let s: Scratch
    init() throws { s = try Scratch() }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        _ = lstat(path, &info)
        return info.st_mode & 0o7777
    }

    /// The error `body` throws, described, or nil if it throws none.
    func refusal(_ body: () throws -> Void) -> String? {
        do { try body() } catch { return "\(error)" }
        return nil
    }

    @Test func theDefaultIsPerUserUnderTmpOrUnderAVPStateDir() throws {
        let platform = try #require(s.load("profile: development\nname: demo\nvms: [{name: a, kernel: vmlinuz, initrd: initrd}]\n").platform)
        #expect(StateDirectory.default(for: platform, environment: [:]) == StateDirectory(path: "/tmp/avp-\(geteuid())/demo", parentIsAVPs: true))
        #expect(StateDirectory.default(for: platform, environment: ["AVP_STATE_DIR": "/var/tmp/mine"]) == StateDirectory(path: "/var/tmp/mine/demo"))
    }

    @Test("prepare creates every directory, parents included, with mode 0700")
    func prepareCreatesPrivateDirectories() throws {
        let state = StateDirectory(path: s.directory + "/base/more/demo")
        try state.prepare()
        for path in [s.directory + "/base", s.directory + "/base/more", state.path, state.socketDirectory, state.logDirectory] {
            #expect(mode(path) == 0o700, "\(path): \(String(mode(path), radix: 8))")
        }
        #expect(try state.existing())
        #expect(try !StateDirectory(path: s.directory + "/base/more/other").existing())
    }

    @Test("a state directory its group or others can write is refused, with the directory and the fix")
    func writableDirectoriesAreRefused() throws {
        let state = StateDirectory(path: s.directory + "/state/demo")
        try state.prepare()
        for bits: mode_t in [0o770, 0o702, 0o777] {
            chmod(state.path, bits)
            let message = try #require(refusal { try state.prepare() })
            #expect(message.contains("state directory \(state.path) is writable by") && message.contains("fix: chmod 700 \(state.path)"), "\(message)")
            #expect(refusal { _ = try state.existing() } == message)
        }
        chmod(state.path, 0o700)
        #expect(refusal { try state.prepare() } == nil)

        // AVP's own /tmp/avp-UID is checked the same way (here with a stand-in for it).
        let owned = StateDirectory(path: s.directory + "/avp-uid/demo", parentIsAVPs: true)
        try owned.prepare()
        chmod(owned.parent, 0o777)
        #expect(refusal { try owned.prepare() }?.contains("state directory \(owned.parent) is writable by its group and others") == true)
    }

    @Test("a directory chosen with AVP_STATE_DIR may be shared only if it has the sticky bit, as /tmp has")
    func chosenParents() throws {
        let state = StateDirectory(path: s.directory + "/chosen/demo")
        try state.prepare()
        chmod(state.parent, 0o777)
        #expect(refusal { try state.prepare() }?.contains("without the sticky bit") == true)
        chmod(state.parent, 0o1777)
        #expect(refusal { try state.prepare() } == nil)
    }

    @Test("a symbolic link, or a file, in place of the state directory is refused")
    func linksAreRefused() throws {
        let elsewhere = s.directory + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        chmod(elsewhere, 0o700)
        let state = StateDirectory(path: s.directory + "/linked/demo")
        try FileManager.default.createDirectory(atPath: state.parent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: state.path, withDestinationPath: elsewhere)
        #expect(refusal { try state.prepare() }?.contains("is a symbolic link") == true)
        try FileManager.default.removeItem(atPath: state.path)
        _ = FileManager.default.createFile(atPath: state.path, contents: Data())
        #expect(refusal { try state.prepare() }?.contains("is not a directory") == true)
    }

    @Test("a state directory that belongs to someone else is refused")
    func foreignDirectoriesAreRefused() throws {
        // Giving a directory away needs root; as another user, this test checks nothing more.
        guard geteuid() == 0 else { return }
        let state = StateDirectory(path: s.directory + "/foreign/demo")
        try state.prepare()
        chown(state.path, 65534, 65534)
        #expect(refusal { try state.prepare() }?.contains("belongs to user 65534, not to you") == true)
    }

    @Test("a pid written into the state directory does not make a running supervisor")
    func plantedPidsAreNotSupervisors() throws {
        let state = StateDirectory(path: s.directory + "/planted/demo")
        try state.prepare()
        for file in [state.lockPath, state.path + "/supervisor.pid"] {
            try "\(getppid())\n".write(toFile: file, atomically: true, encoding: .utf8)
        }
        #expect(try Supervisor.runningSupervisor(state) == nil)
        #expect(try Supervisor.runningSupervisor(StateDirectory(path: s.directory + "/never/demo")) == nil)
    }

    @Test("a corrupt status.json is an error that names it, not 'never started'")
    func corruptStatusIsReported() throws {
        let state = StateDirectory(path: s.directory + "/corrupt/demo")
        #expect(try Supervisor.readStatus(state) == nil)
        try state.prepare()
        #expect(try Supervisor.readStatus(state) == nil)
        for text in ["{garbage", "{}", "{\"platform\": 5}", ""] {
            try text.write(toFile: state.statusPath, atomically: true, encoding: .utf8)
            let message = try #require(refusal { _ = try Supervisor.readStatus(state) }, "\(text)")
            #expect(message.hasPrefix("\(state.statusPath) is corrupt: "), "\(message)")
        }
    }
}
