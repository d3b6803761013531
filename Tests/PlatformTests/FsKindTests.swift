import Devices
import Foundation
import Platform
import Testing

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
}
