import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// `- type: fs` ({AVPS-v2.0-50}): a host directory per device or per shared server, read-only for
/// any number of VMs and writable for at most one.
@Suite struct FsKindTests {
    let s: Scratch
    init() throws {
        s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.directory + "/maps", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.directory + "/exchange", withIntermediateDirectories: true)
    }

    static let platform = """
        profile: production
        servers: [{name: maps, type: fs, dir: maps, read-only: true}]
        vms:
          - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, server: maps}, {type: fs, dir: exchange, tag: xchg}]}
          - {name: cluster, machine: microvm, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, server: maps}, {type: fs, dir: exchange, read-only: true}]}
        """

    @Test("a shared read-only server for both VMs, a private writable share, QEMU's vhost-user-fs with the tag")
    func planned() throws {
        let state = s.directory + "/state"
        let p = try s.plan(Self.platform, stateDirectory: state)
        let servers = p.servers.filter { $0.kind == .fs }
        #expect(servers.map(\.name) == ["maps", "ivi-fs1", "cluster-fs1"])
        let options = try servers.map { try FsServeOptions.parse(Array($0.arguments.dropFirst(2))) }
        #expect(options.map(\.sharedDir) == [s.directory + "/maps", s.directory + "/exchange", s.directory + "/exchange"])
        #expect(options.map(\.readOnly) == [true, false, true])
        #expect(options[0].endpoints.connect == [state + "/sockets/maps-ivi.sock", state + "/sockets/maps-cluster.sock"])
        #expect(servers.allSatisfy { $0.onRestart != .frontEndsReconnect }, "the guest's FUSE session dies with its server: its VMs restart with it")
        let ivi = p.vms[0].command.arguments.joined(separator: " ")
        let cluster = p.vms[1].command.arguments.joined(separator: " ")
        #expect(ivi.contains("vhost-user-fs-pci,chardev=fs0,id=fs0-dev,tag=maps,queue-size=1024") && ivi.contains("tag=xchg"), "\(ivi)")
        #expect(cluster.contains("vhost-user-fs-device,chardev=fs1,id=fs1-dev,tag=exchange"), "\(cluster)")
    }

    @Test("avp check: two writers of one folder, a missing or absent directory, a bad tag")
    func rules() throws {
        _ = FileManager.default.createFile(atPath: s.directory + "/plain", contents: Data())
        let e = errors(s.load("""
            profile: development
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: exchange}, {type: fs}, {type: fs, dir: nowhere}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: exchange}, {type: fs, dir: plain}]}
            """))
        for expected in ["writes the shared folder \(s.directory)/exchange, which VM 'a' also writes", "a shared folder needs its host directory",
                         "\(s.directory)/nowhere is not a directory", "\(s.directory)/plain is not a directory"] {
            #expect(e.contains { $0.contains(expected) }, "\(expected): \(e)")
        }
        let tag = errors(s.load("profile: development\nvms: [{name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: maps, tag: \"a b\"}]}]\n"))
        #expect(tag.contains { $0.contains("does not match") }, "\(tag)")
        try FileManager.default.createDirectory(atPath: s.directory + "/with space", withIntermediateDirectories: true)
        let derived = errors(s.load("profile: development\nvms: [{name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: with space}]}]\n"))
        #expect(derived.contains { $0.contains("the tag 'with space' is not 1 to 36") }, "\(derived)")
        #expect(s.load(Self.platform).errors.isEmpty)
    }

    @Test("avp serve fs options: a round trip, and each refusal")
    func serveOptions() throws {
        let options = FsServeOptions(endpoints: ServeEndpoints(socket: ["/s/fs.sock"], connect: ["/s/b.sock"]), sharedDir: "/srv/my maps",
                                     readOnly: true, requestQueues: 2)
        let back = try FsServeOptions.parse(options.arguments)
        #expect(back.arguments == options.arguments && back.readOnly && back.sharedDir == "/srv/my maps" && back.requestQueues == 2)
        #expect(options.commandLine.prefix(2) == ["serve", "fs"])
        for bad in [["--shared-dir", "/x"], ["--socket", "/a"], ["--socket", "/a", "--shared-dir", "/x", "--request-queues", "17"],
                    ["--socket", "/a", "--shared-dir", ""]] {
            #expect(throws: (any Error).self, "\(bad)") { try FsServeOptions.parse(bad) }
        }
    }

    @Test("uid-map/gid-map reach avp serve fs (block or flow lists, quoted or not); a shared server's map is every VM's")
    func idMaps() throws {
        let state = s.directory + "/state"
        let p = try s.plan("""
            profile: development
            servers:
              - name: maps
                type: fs
                dir: maps
                read-only: true
                uid-map:
                  - 0:100000:65536
                gid-map: ["0:200000:1000", 1000:300000:1]
            vms:
              - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, server: maps}, {type: fs, dir: exchange, uid-map: [1:2:3, "0:100000:1"]}]}
              - {name: cluster, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, server: maps}, {type: fs, dir: exchange, read-only: true}]}
            """, stateDirectory: state)
        let servers = p.servers.filter { $0.kind == .fs }
        #expect(servers.map(\.name) == ["maps", "ivi-fs1", "cluster-fs1"])
        let options = try servers.map { try FsServeOptions.parse(Array($0.arguments.dropFirst(2))) }
        let shared = FsOwnerMapping(uids: try IdMap(parsing: ["0:100000:65536"]), gids: try IdMap(parsing: ["0:200000:1000", "1000:300000:1"]))
        #expect(try options[0].owners == shared, "\(servers[0].arguments)")
        #expect(options[0].endpoints.connect == [state + "/sockets/maps-ivi.sock", state + "/sockets/maps-cluster.sock"],
                "one process, so one map, for both VMs")
        // 1:2:3 is a YAML 1.1 sexagesimal number; the option reads the text as written.
        #expect(try options[1].owners == FsOwnerMapping(uids: try IdMap(parsing: ["1:2:3", "0:100000:1"]), gids: .identity))
        #expect(try options[2].owners == .identity && !servers[2].arguments.contains("--uid-map") && !servers[2].arguments.contains("--gid-map"))
        let arguments = servers[0].arguments.joined(separator: " ")
        #expect(arguments.contains("--uid-map 0:100000:65536 --gid-map 0:200000:1000 --gid-map 1000:300000:1"), "\(arguments)")
    }

    @Test("avp check: a malformed, empty or overlapping map is refused naming its option, in avp serve fs's words; a shared device has no map of its own")
    func idMapRules() throws {
        let r = s.load("""
            profile: development
            servers: [{name: maps, type: fs, dir: maps, read-only: true}]
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                devices:
                  - {type: fs, dir: exchange, uid-map: ["1:2"]}
                  - {type: fs, dir: maps, read-only: true, gid-map: ["0:100:10", "5:200:10"]}
                  - {type: fs, dir: maps, read-only: true, uid-map: ["0:100:0"], gid-map: ["0:4294967295:2"]}
                  - {type: fs, server: maps, uid-map: ["0:100000:1000"]}
            """)
        let e = errors(r)
        #expect(r.platform == nil)
        for expected in ["8:44 uid-map: \"1:2\" is not GUEST:HOST:COUNT (three decimal numbers)",
                         "9:57 gid-map: the ranges 0:100:10 and 5:200:10 overlap on the guest side",
                         "10:57 uid-map: a range maps at least one id (COUNT > 0)", "gid-map: a range ends beyond id 4294967295",
                         "options of a shared device belong to its server"] {
            #expect(e.contains { $0.contains(expected) }, "\(expected): \(e)")
        }
        let malformed = r.errors.first { $0.message.hasPrefix("uid-map: \"1:2\"") }
        #expect(malformed?.fix?.contains("GUEST:HOST:COUNT, e.g. \"0:100000:65536\"") == true, "\(String(describing: malformed))")
        do {
            _ = try FsServeOptions.parse(["--socket", "/a", "--shared-dir", "/x", "--uid-map", "1:2"])
            Issue.record("avp serve fs took --uid-map 1:2")
        } catch {
            let serve = FsServeOptions.message(for: error)
            #expect(serve.contains("--uid-map: \"1:2\" is not GUEST:HOST:COUNT (three decimal numbers)"), "\(serve)")
        }
        let scalar = errors(s.load("profile: development\nvms: [{name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: maps, uid-map: 0:1:1}]}]\n"))
        #expect(scalar.contains { $0.contains("uid-map' must be a list") }, "\(scalar)")
    }
}

/// `size-limit`/`inode-limit`: the server's `--size-limit`/`--inode-limit`, for the VM that writes.
@Suite struct FsKindLimitTests {
    let s: Scratch
    init() throws {
        s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.directory + "/exchange", withIntermediateDirectories: true)
    }

    @Test("limits reach the server's arguments and read back as the same bytes and inodes; none means no arguments")
    func limitsPlanned() throws {
        let p = try s.plan("""
            profile: production
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: exchange, size-limit: 64M, inode-limit: 5000}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: exchange, read-only: true}]}
            """, stateDirectory: s.directory + "/state")
        let servers = p.servers.filter { $0.kind == .fs }
        let options = try servers.map { try FsServeOptions.parse(Array($0.arguments.dropFirst(2))) }
        #expect(options[0].limits == FsShareLimits(bytes: 64 << 20, inodes: 5000), "\(servers[0].arguments)")
        #expect(options[1].limits == .none && !servers[1].arguments.contains("--size-limit") && !servers[1].arguments.contains("--inode-limit"))
    }

    @Test("avp check: a limit on a read-only share, a size that is no size and an inode limit of 0 are refused")
    func limitRules() throws {
        let r = s.load("""
            profile: development
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                devices:
                  - {type: fs, dir: exchange, size-limit: lots}
                  - {type: fs, dir: exchange, read-only: true, inode-limit: 0}
            """)
        let messages = r.errors.map { "\($0)" }
        #expect(r.platform == nil)
        #expect(messages.contains { $0.contains("size-limit' must be a size") }, "\(messages)")
        #expect(messages.contains { $0.contains("inode-limit' is 0") }, "\(messages)")
        let readOnly = s.load("""
            profile: development
            vms: [{name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: fs, dir: exchange, read-only: true, size-limit: 1G}]}]
            """)
        #expect(readOnly.platform == nil && readOnly.errors.contains { "\($0)".contains("a read-only share cannot grow") }, "\(readOnly.errors)")
        #expect(throws: (any Error).self) { try FsServeOptions.parse(["--socket", "/a", "--shared-dir", "/x", "--size-limit", "lots"]) }
        #expect(try FsServeOptions.parse(["--socket", "/a", "--shared-dir", "/x", "--size-limit", "1536K"]).limits.bytes == 1536 << 10)
    }
}
