import Foundation
import Platform
import Testing
import ServerCommands

/// What reaches the YAML parser, and what comes back in messages: size, encoding,
/// characters, nesting, duplicate keys, counts.
@Suite struct HostilePlatformFiles {
    let s: Scratch
    init() throws { s = try Scratch() }

    @Test("a duplicated key is reported where it occurs again, in block and flow mappings")
    func duplicateKeysPointAtTheSecondOccurrence() {
        let block = s.load("profile: development\nvms:\n  - name: a\n    cpus: 1\n    memory: 512M\n    cpus: 2\n")
        #expect(errors(block) == ["6:5 duplicate key 'cpus': it already appears at line 4, column 5"])

        let flow = s.load("profile: development\nvms:\n  - {name: a, cpus: 1, name: b}\n")
        #expect(errors(flow) == ["3:24 duplicate key 'name': it already appears at line 3, column 6"])

        let quoted = s.load("profile: development\n\"vms\": []\nvms: []\n")
        #expect(errors(quoted) == ["3:1 duplicate key 'vms': it already appears at line 2, column 1"])

        // Several mappings with duplicates: each is reported, at its second occurrence.
        let several = s.load("profile: development\nvms:\n  - name: a\n    name: b\n  - name: c\n    cpus: 1\n    cpus: 2\nprofile: production\n")
        #expect(errors(several) == ["4:5 duplicate key 'name': it already appears at line 3, column 5",
                                    "7:5 duplicate key 'cpus': it already appears at line 6, column 5",
                                    "8:1 duplicate key 'profile': it already appears at line 1, column 1"])
    }

    @Test("10 000 levels of nesting are refused before parsing, with a position and no libyaml internals")
    func deepNestingIsRefused() {
        let cases = [
            String(repeating: "[", count: 10_000),
            String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
            "a: " + String(repeating: "{a: ", count: 10_000) + String(repeating: "}", count: 10_000),
            // Indentation costs bytes, so these stay under the 1 MiB limit with fewer levels.
            (0..<1_000).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n"),
            "a:\n" + (0..<700).map { String(repeating: " ", count: 2 * $0 + 2) + "-" }.joined(separator: "\n"),
            String(repeating: "- ", count: 10_000) + "x",
        ]
        for text in cases {
            let r = s.load(text)
            #expect(r.errors.count == 1, "\(errors(r))")
            let message = r.errors.first?.message ?? ""
            #expect(message.hasPrefix("nesting is too deep here"), "\(message)")
            #expect(!message.contains("yaml_set_max_nest_level") && r.errors.first?.fix?.contains("indentation") != true)
        }
        // The position is where the limit is passed: the 33rd '[' (also when libyaml, reading
        // ahead through 10 000 of them, gives up first).
        #expect(errors(s.load(String(repeating: "[", count: 100))).first?.hasPrefix("1:33 ") == true)
        #expect(errors(s.load(String(repeating: "[", count: 10_000))).first?.hasPrefix("1:33 ") == true)
        #expect(errors(s.load("vms:\n  - " + String(repeating: "{a: ", count: 10_000))).first?.hasPrefix("2:125 ") == true)
    }

    @Test("a billion laughs: aliases that expand without end are refused at once")
    func aliasBombsAreRefused() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for i in 1...9 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]") }
        // As a mapping key, Yams would hash all 400 million nodes; as a value, the checks would walk them.
        for tail in ["? *a9\n: 1\n", "vms: [{name: a, cmdline: *a9}]\nprofile: development\n"] {
            let started = Date()
            let r = s.load(lines.joined(separator: "\n") + "\n" + tail)
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(r.errors.count == 1 && r.errors.first?.message.hasPrefix("aliases repeat more than 65536 nodes") == true, "\(errors(r))")
            #expect(r.errors.first?.line == 5)
        }
        // Aliases of a sensible size are fine.
        let shared = s.load("""
            profile: development
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: &common [{type: entropy}, {type: console}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: *common}
            """)
        #expect(shared.errors.isEmpty && shared.platform?.vms[1].devices.count == 2, "\(errors(shared))")
    }

    @Test func nestingInStringsIsNotNesting() throws {
        let r = s.load("""
            profile: development
            networks: [{name: lan}]
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                cmdline: "quiet [x] {y} [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                devices:
                  - type: net
                    network: lan
                    mac-change: deny
                    allowed-macs:
                      - 02:00:00:00:00:07
                      - [not, a, mac]
              - {name: b, kernel: vmlinuz, initrd: initrd, cmdline: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', devices: [{type: net, network: lan, allowed-macs: ["02:00:00:00:00:08"]}]}
            """)
        #expect(errors(r) == ["14:13 'vms[0].devices[0].allowed-macs[1]' must be a string"])
        let literal = s.load("profile: development\nvms:\n  - name: a\n    kernel: vmlinuz\n    initrd: initrd\n    cmdline: |\n"
                             + (0..<40).map { String(repeating: " ", count: 6 + $0) + "[" }.joined(separator: "\n") + "\n")
        #expect(literal.errors.isEmpty, "\(errors(literal))")
    }

    @Test("control characters and escape sequences never reach the terminal")
    func controlCharactersAreRefusedOrEscaped() {
        let raw = s.load("profile: development\nvms:\n  - name: a\n    ma\u{1B}[2Jchine: q35\n")
        #expect(errors(raw) == ["4:7 character U+001B is not allowed in a platform file: it is a control character, not text"])

        // Written as escapes inside a quoted key, they are text, but shown escaped.
        let escaped = s.load("profile: development\nvms:\n  - name: a\n    \"k\\e[2J\\x01\\u202E\": 1\n")
        let message = escaped.errors.first?.message ?? ""
        #expect(message == "unknown key 'k\\u{1B}[2J\\u{1}\\u{202E}' in 'vms[0]'")
        #expect(!message.unicodeScalars.contains { $0.value < 0x20 || $0 == "\u{202E}" })

        // Random bytes: whatever the verdict, no message holds a control character.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let r = PlatformLoader.load(bytes: bytes, path: s.directory + "/random.yaml")
            for d in r.diagnostics {
                #expect(!(d.message + (d.fix ?? "")).unicodeScalars.contains { UserText.isUnprintable($0) }, "\(d.message)")
            }
        }
    }

    @Test("a pattern must match the whole value: a trailing newline does not slip through")
    func patternsMatchWholeValues() {
        let r = s.load("""
            profile: development
            vms:
              - {name: "ivi\\n", kernel: vmlinuz, initrd: initrd, devices: [{type: block, image: disk.img, serial: "0123456789012345678\\n"}]}
            """)
        #expect(errors(r).count == 2 && errors(r).allSatisfy { $0.contains("does not match") }, "\(errors(r))")
    }

    @Test("a long value is shown cut short")
    func longValuesAreShortened() {
        let r = s.load("profile: " + String(repeating: "x", count: 5000) + "\nvms: [{name: a}]\n")
        let message = r.errors.first?.message ?? ""
        #expect(message.count < 200 && message.contains("…"), "\(message)")
    }

    @Test("non-UTF-8 input is refused with the offset and line of the first bad byte")
    func invalidUTF8IsRefused() {
        let bytes = Array("profile: development\nvms:\n  - name: ".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let r = PlatformLoader.load(bytes: bytes, path: s.directory + "/p.yaml")
        #expect(errors(r) == ["3:11 the file is not UTF-8 text: byte 0xC3 at offset 36 begins an invalid sequence"])
        let utf16 = PlatformLoader.load(bytes: [0xFF, 0xFE] + Array("p".utf8), path: s.directory + "/p.yaml")
        #expect(utf16.errors.first?.message.contains("UTF-16") == true)
        // Valid multi-byte text is not affected, and a byte-order mark is allowed at the start.
        let bom = PlatformLoader.load(bytes: [0xEF, 0xBB, 0xBF] + Array("profile: development\nvms: [{name: a, kernel: vmlinuz, initrd: initrd, cmdline: \"é ✓\"}]\n".utf8),
                                      path: s.directory + "/p.yaml")
        #expect(bom.errors.isEmpty, "\(errors(bom))")
    }

    @Test("a file over 1 MiB is refused before it is parsed")
    func largeFilesAreRefused() throws {
        let path = s.directory + "/large.yaml"
        try Data(repeating: UInt8(ascii: "#"), count: PlatformLimits.fileBytes + 1).write(to: URL(fileURLWithPath: path))
        let r = PlatformLoader.load(path: path)
        #expect(r.errors.count == 1 && r.errors[0].message.contains("larger than 1 MiB"), "\(errors(r))")
        #expect(PlatformLoader.load(path: "/dev/zero").errors.first?.message.contains("larger than 1 MiB") == true)
        #expect(PlatformLoader.load(path: s.directory).errors.first?.message.contains("is a directory") == true)
    }

    @Test("VMs, devices, networks, servers, MACs and vsock pairs are limited, with a position")
    func countsAreLimited() {
        // As many VMs as fit in 1 MiB: refused quickly, pointing at the first one too many.
        let vms = String(repeating: "  - {name: a}\n", count: 70_000)
        let started = Date()
        let r = s.load("profile: development\nvms:\n" + vms)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(errors(r) == ["67:5 'vms' has 70000 entries; at most 64 are allowed"])

        let devices = s.load("profile: development\nvms:\n  - name: a\n    devices: [" + Array(repeating: "{type: entropy}", count: 17).joined(separator: ", ") + "]\n")
        #expect(errors(devices).first?.hasPrefix("4:") == true && errors(devices).first?.contains("'vms[0].devices' has 17 entries; at most 16") == true)

        let networks = s.load("profile: development\nnetworks: [" + (0..<65).map { "{name: n\($0)}" }.joined(separator: ", ") + "]\nvms: [{name: a}]\n")
        #expect(errors(networks).first?.contains("'networks' has 65 entries; at most 64") == true)

        let servers = s.load("profile: development\nservers: [" + (0..<65).map { "{name: s\($0), type: entropy}" }.joined(separator: ", ") + "]\nvms: [{name: a}]\n")
        #expect(errors(servers).first?.contains("'servers' has 65 entries; at most 64") == true)

        let macs = s.load("profile: development\nvms: [{name: a, devices: [{type: net, allowed-macs: [" + Array(repeating: "\"02:00:00:00:00:01\"", count: 65).joined(separator: ", ") + "]}]}]\n")
        #expect(errors(macs).first?.contains("allowed-macs' has 65 entries; at most 64") == true)

        let pairs = s.load("profile: development\nvsock: {allow: [" + Array(repeating: "[a, b]", count: PlatformLimits.vsockPairs + 1).joined(separator: ", ") + "]}\nvms: [{name: a}]\n")
        #expect(errors(pairs).first?.contains("'vsock.allow' has \(PlatformLimits.vsockPairs + 1) entries") == true)
        let triple = s.load("profile: development\nvsock: {allow: [[a, b, c]]}\nvms: [{name: a}]\n")
        #expect(errors(triple) == ["2:24 'vsock.allow[0]' has 3 entries; at most 2 are allowed"])
    }

    @Test("a microvm VM has at most eight devices: QEMU's microvm has eight virtio-mmio slots")
    func microvmDeviceSlots() {
        let nine = Array(repeating: "{type: entropy}", count: 9).joined(separator: ", ")
        let r = s.load("profile: development\nvms: [{name: a, machine: microvm, kernel: vmlinuz, initrd: initrd, devices: [\(nine)]}]\n")
        #expect(r.errors.map(\.message) == ["VM 'a' has 9 devices, but QEMU's microvm machine has only 8 virtio-mmio slots"])
        let q35 = s.load("profile: development\nvms: [{name: a, machine: q35, kernel: vmlinuz, initrd: initrd, devices: [\(nine)]}]\n")
        #expect(q35.errors.isEmpty, "\(errors(q35))")
    }

    @Test("a file with thousands of problems reports the first hundred and how many more")
    func diagnosticsAreCapped() {
        let keys = (0..<5000).map { "    k\($0): 1" }.joined(separator: "\n")
        let r = s.load("profile: development\nvms:\n  - name: a\n" + keys + "\n")
        #expect(r.diagnostics.count == PlatformLimits.diagnostics + 1)
        #expect(r.diagnostics.last?.message == "4900 more problem(s) not shown; the first 100 are above")
    }
}
