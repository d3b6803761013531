import Devices
import Foundation
import Platform
import Testing

/// A scratch directory with a kernel and initrd file, so platform files can name real paths.
/// A temporary directory with placeholder kernel, initrd and images; removed when released.
final class Scratch {
    let directory: String
    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-platform-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for f in ["vmlinuz", "initrd", "disk.img", "shared.img"] {
            _ = FileManager.default.createFile(atPath: directory + "/" + f, contents: Data(count: 4096))
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func load(_ yaml: String, checkingFiles: Bool = true) -> PlatformLoader.Result {
        PlatformLoader.load(yaml: yaml, path: directory + "/platform.yaml", checkingFiles: checkingFiles)
    }

    /// The launch plan of a platform that must check clean, for QEMU 10.0 under TCG.
    func plan(_ yaml: String, stateDirectory: String) throws -> PlatformPlan {
        let r = load(yaml)
        let platform = try #require(r.platform, "\(errors(r))")
        return try PlatformPlan(platform: platform, stateDirectory: stateDirectory, accelerator: .tcg,
                                qemuVersion: QemuVersion(major: 10, minor: 0))
    }
}

func errors(_ r: PlatformLoader.Result) -> [String] { r.errors.map { "\($0.line):\($0.column) \($0.message)" } }

@Suite struct PlatformFileChecks {
    let s: Scratch
    init() throws { s = try Scratch() }

    let good = """
        name: car
        profile: development
        servers:
          - name: rng
            type: entropy
          - name: maps
            type: block
            image: shared.img
            read-only: true
        vms:
          - name: ivi
            kernel: vmlinuz
            initrd: initrd
            memory: 1G
            cpus: 2
            devices:
              - type: entropy
                server: rng
              - type: block
                image: disk.img
                serial: IVI-0
                cache: writethrough
              - type: block
                server: maps
              - type: console
          - name: cluster
            machine: microvm
            kernel: vmlinuz
            initrd: initrd
            memory: 256M
            restart: never
            devices:
              - type: entropy
                server: rng
              - type: block
                server: maps
        """

    @Test func aGoodFileLoadsWithDefaultsApplied() throws {
        let r = s.load(good)
        #expect(r.errors.isEmpty, "\(errors(r))")
        let p = try #require(r.platform)
        #expect(p.name == "car" && p.profile == .development && p.vms.count == 2 && p.servers.count == 2)
        let ivi = try #require(p.vm(named: "ivi"))
        #expect(ivi.memoryMiB == 1024 && ivi.cpus == 2 && ivi.machine == .q35 && ivi.restart == .onFailure && ivi.hasConsole)
        #expect(ivi.kernel == s.directory + "/vmlinuz")
        #expect(ivi.devices[1].block?.cache == .writethrough && ivi.devices[1].block?.serial == "IVI-0")
        #expect(p.vm(named: "cluster")?.memoryMiB == 256)
    }

    @Test func unknownKeysAreReportedWhereTheyAreWithASuggestion() {
        let r = s.load("""
            profile: development
            vms:
              - name: ivi
                kernel: vmlinuz
                initrd: initrd
                memroy: 512M
            """)
        #expect(errors(r) == ["6:5 unknown key 'memroy' in 'vms[0]'"])
        #expect(r.errors.first?.fix == "did you mean 'memory'?")
    }

    @Test func wrongTypesAndValuesAreReported() {
        let r = s.load("""
            profile: testing
            vms:
              - name: Ivi
                cpus: many
                memory: lots
                machine: pc
                devices: none
            """)
        let e = errors(r)
        #expect(e.contains("1:10 'profile' is 'testing', which is not one of: development, production"))
        #expect(e.contains { $0.hasPrefix("3:11 'vms[0].name' 'Ivi' does not match") })
        #expect(e.contains("4:11 'vms[0].cpus' must be a whole number from 1 to 255"))
        #expect(e.contains("5:13 'vms[0].memory' must be a size from 128M to 256G, such as 512M or 2G"))
        #expect(e.contains("6:14 'vms[0].machine' is 'pc', which is not one of: q35, microvm, virt"))
        #expect(e.contains("7:14 'vms[0].devices' must be a list (- item)"))
    }

    @Test func missingRequiredKeys() {
        let r = s.load("name: x\n")
        #expect(errors(r) == ["1:1 the platform file lacks the required key 'profile'", "1:1 the platform file lacks the required key 'vms'"])
    }

    @Test func yamlSyntaxErrorsHaveAPosition() {
        let r = s.load("profile: development\nvms:\n  - name: a\n   bad: [\n")
        #expect(r.errors.count == 1)
        #expect(r.errors[0].message.hasPrefix("YAML syntax"))
        #expect(r.errors[0].line >= 3)
    }

    @Test func platformRulesAreCheckedWithPositions() {
        let r = s.load("""
            profile: development
            servers:
              - name: rng
                type: entropy
              - name: rng
                type: entropy
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                memory: 128M
                devices:
                  - type: entropy
                    server: rnd
                  - type: block
                  - type: entropy
                    image: disk.img
              - name: a
                kernel: missing-kernel
                initrd: initrd
                devices:
                  - type: block
                    image: disk.img
                  - type: block
                    image: disk.img
            """)
        let e = errors(r)
        #expect(e.contains("5:11 a server named 'rng' is already declared"))
        #expect(e.contains("14:17 device refers to server 'rnd', which is not declared"))
        #expect(r.errors.first { $0.message.contains("'rnd'") }?.fix == "declare it under 'servers:' or use one of: rng")
        #expect(e.contains("15:15 a block device needs an image"))
        #expect(e.contains("17:9 'image' is not an option of entropy devices"))
        #expect(e.contains("18:11 a VM named 'a' is already declared"))
        #expect(e.contains { $0.hasPrefix("19:13 kernel ") && $0.hasSuffix("missing-kernel does not exist") })
        #expect(e.contains { $0.hasPrefix("25:16 VM 'a' writes ") && $0.contains("which VM 'a' also writes") })
    }

    @Test func missingImagesGetAFix() {
        let r = s.load("""
            profile: development
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                devices:
                  - type: block
                    image: nowhere.img
            """)
        #expect(r.errors.first?.fix == "create it, e.g. truncate -s 1G \(s.directory)/nowhere.img")
    }

    @Test("AVPS-v2.0-48: a production file with any console is refused")
    func productionRefusesConsoles() {
        let r = s.load("""
            profile: production
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                cmdline: quiet console=ttyS0
                devices:
                  - type: entropy
                  - type: console
            """)
        let e = errors(r)
        #expect(e.contains("6:14 'console=ttyS0' asks for a console, which the production profile forbids (AVPS-v2.0-48)"))
        #expect(e.contains("9:15 VM 'a' has a console, but the production profile allows no console of any kind (AVPS-v2.0-48)"))
        #expect(r.platform == nil)
    }

    @Test("AVPS-v2.0-40: a VM without an entropy device is warned about")
    func entropyMissingIsAWarning() {
        let r = s.load("profile: development\nvms:\n  - name: a\n    kernel: vmlinuz\n    initrd: initrd\n")
        #expect(r.errors.isEmpty && r.platform != nil)
        #expect(r.diagnostics.map(\.message) == ["VM 'a' has no entropy device (AVPS-v2.0-40 requires one)"])
    }

    @Test("AVPS-v2.0-11/14/15/16: networks and vsock are checked: references, MACs, MTUs, CIDs, pairs")
    func networkAndVsockRules() {
        let r = s.load("""
            profile: development
            networks:
              - name: lan
                mtu: 9000
            vsock:
              allow:
                - [a, ghost]
                - [a]
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                devices:
                  - type: net
                    network: wan
                  - type: net
                    network: lan
                    mac: 03:00:00:00:00:01
                  - type: net
                    network: lan
                    mac: 02:00:00:00:00:01
                    mtu: 40
                  - type: vsock
                    cid: 3
                  - type: entropy
                    cid: 5
              - name: b
                kernel: vmlinuz
                initrd: initrd
                devices:
                  - type: net
                    network: lan
                    mac: 02:00:00:00:00:01
                  - type: vsock
                    cid: 3
            """)
        // Shape first: these stop the check before the platform rules run.
        #expect(errors(r) == ["8:7 'vsock.allow[1]' needs at least 2 entries",
                              "22:14 'vms[0].devices[2].mtu' is 40; it must be a whole number from 68 to 65535"])
        let r2 = s.load("""
            profile: development
            networks: [{name: lan}]
            vsock:
              allow:
                - [a, ghost]
                - [a, a]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: net, network: lan, mac: "02:00:00:00:00:01"}, {type: vsock, cid: 3}, {type: entropy, cid: 5},
                 {type: net, network: wan}, {type: net, network: lan, mac: "03:00:00:00:00:01"}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: net, network: lan, mac: "02:00:00:00:00:01"}, {type: vsock, cid: 3}]}
            """)
        let e2 = errors(r2)
        #expect(e2.contains("5:7 'ghost' is not a VM of this platform"))
        #expect(e2.contains("6:7 a vsock pair names two different VMs"))
        #expect(e2.contains { $0.contains("'cid' is not an option of entropy devices") })
        #expect(e2.contains { $0.contains("MAC 02:00:00:00:00:01 is already used by VM 'a'") })
        #expect(e2.contains { $0.contains("cid 3 is already used by VM 'a'") })
        #expect(e2.contains { $0.contains("network 'wan' is not declared") })
        #expect(e2.contains { $0.contains("03:00:00:00:00:01 is a multicast or zero address") })
    }

    @Test("AVPS §2.7: without a fixed MAC, a VM gets the same derived MAC every time")
    func derivedMACsAreStable() throws {
        let yaml = "profile: development\nnetworks: [{name: lan}]\nvms:\n  - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: net, network: lan}]}\n"
        let first = try #require(s.load(yaml).platform?.vms[0].devices[0].net?.mac)
        let second = try #require(s.load(yaml).platform?.vms[0].devices[0].net?.mac)
        #expect(first == second && !first.isMulticast && first.bytes[0] & 2 == 2)
        #expect(first != MACAddress.derived(from: "other/a/0"))
    }

    @Test func shippedExamplesAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("examples/two-vms.yaml"), encoding: .utf8)
        // Same file, but with the test's kernel and initrd so it does not need the guest image.
        let local = text.replacingOccurrences(of: "kernel: default", with: "kernel: vmlinuz")
            .replacingOccurrences(of: "initrd: default", with: "initrd: initrd")
            .replacingOccurrences(of: "    restart: on-failure\n    devices:\n      - type: entropy\n        server: rng\n      - type: console\n\n  - name: cluster",
                                  with: "    restart: on-failure\n    devices:\n      - type: entropy\n        server: rng\n      - type: console\n\n  - name: cluster")
            .replacingOccurrences(of: "    memory: 384M\n", with: "    memory: 384M\n    kernel: vmlinuz\n    initrd: initrd\n")
        #expect(local.contains("memory: 384M\n    kernel: vmlinuz"), "the cluster VM of the example changed: update this test")
        // The example's mask and shared folder, next to it as in examples/.
        try FileManager.default.copyItem(atPath: root.appendingPathComponent("examples/ivi-mask.pbm").path, toPath: s.directory + "/ivi-mask.pbm")
        try FileManager.default.copyItem(atPath: root.appendingPathComponent("examples/shared").path, toPath: s.directory + "/shared")
        let r = s.load(local)
        #expect(r.errors.isEmpty, "\(errors(r))")
    }

    @Test func theCommittedJSONSchemaIsTheGeneratedOne() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("docs/platform.schema.json"), encoding: .utf8)
        #expect(committed == PlatformSchema.jsonSchema(), "regenerate it: avp schema > docs/platform.schema.json")
    }
}
