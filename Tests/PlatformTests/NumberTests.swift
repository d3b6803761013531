import Foundation
import Platform
import Testing
import ServerCommands

/// Numbers in platform files: read by AVP, never trapping, always checked against a range
/// that the error message states.
@Suite struct NumbersInPlatformFiles {
    let s: Scratch
    init() throws { s = try Scratch() }

    /// A one-VM file with `line` among the VM's keys (indented for the VM mapping), line 4.
    func vm(_ line: String, devices: String = "[{type: entropy}]") -> PlatformLoader.Result {
        s.load("profile: development\nvms:\n  - name: a\n    \(line)\n    kernel: vmlinuz\n    initrd: initrd\n    devices: \(devices)\n")
    }

    @Test func wholeNumbersAreReadWithoutTheYAMLResolver() {
        #expect(WholeNumber.read("42") == .value(42))
        #expect(WholeNumber.read("-7") == .value(-7))
        #expect(WholeNumber.read("+7") == .value(7))
        #expect(WholeNumber.read("0") == .value(0))
        #expect(WholeNumber.read("9223372036854775807") == .value(Int.max))
        #expect(WholeNumber.read("9223372036854775808") == .tooLarge)
        #expect(WholeNumber.read("99999999999999999999") == .tooLarge)
        #expect(WholeNumber.read("-99999999999999999999") == .tooLarge)
        #expect(WholeNumber.read("010") == .leadingZero)
        for text in ["1:1:1:1:1:1:1:1:1:1:1:1", "9223372036854775807:0", "0x10", "0o17", "1_000", "1e3", "1.0", ".inf", "", "-", "٣"] {
            #expect(WholeNumber.read(text) == .notANumber, "\(text)")
        }
    }

    @Test func memorySizesAreReadExactly() {
        #expect(MemorySize.read("512") == .mebibytes(512))
        #expect(MemorySize.read("512M") == .mebibytes(512))
        #expect(MemorySize.read("512MiB") == .mebibytes(512))
        #expect(MemorySize.read("2G") == .mebibytes(2048))
        #expect(MemorySize.read("1.5g") == .mebibytes(1536))
        #expect(MemorySize.read("1.50G") == .mebibytes(1536))
        #expect(MemorySize.read("65536K") == .mebibytes(64))
        #expect(MemorySize.read("1T") == .mebibytes(1024 * 1024))
        #expect(MemorySize.read("1000K") == .fractionOfMiB)
        #expect(MemorySize.read("1.3G") == .fractionOfMiB)
        #expect(MemorySize.read("99999999999999999999G") == .tooLarge)
        #expect(MemorySize.read("9999999999999999T") == .tooLarge)
        for text in ["1e300G", "infM", "inf", "nan", "-5", "-5M", ".5M", "5.M", "0x10", "1:1:1:1:1:1:1:1:1:1:1:1", "12X", "M", ""] {
            #expect(MemorySize.read(text) == .notASize, "\(text)")
        }
    }

    @Test("memory: 1e300G, infM and 99999999999999999999G are errors with the range, not crashes")
    func absurdMemorySizes() {
        for value in ["1e300G", "infM", "99999999999999999999G", "9999999999G", "99999999999999999999", "1:1:1:1:1:1:1:1:1:1:1:1", "64M", "257G"] {
            let r = vm("memory: \(value)")
            #expect(r.platform == nil, "\(value)")
            #expect(r.errors.count == 1 && r.errors[0].line == 4 && r.errors[0].column == 13, "\(value): \(errors(r))")
            #expect(r.errors.first?.message.contains("from 128M to 256G") == true, "\(value): \(errors(r))")
        }
        #expect(vm("memory: 256G").errors.isEmpty)
        #expect(vm("memory: 128").platform?.vms[0].memoryMiB == 128)
        #expect(vm("memory: 1000K").errors.first?.message.contains("not a whole number of MiB") == true)
    }

    @Test("every numeric field: huge, negative, sexagesimal and out-of-range values are errors with the range")
    func everyNumericFieldIsRangeChecked() {
        // A VM key's line with NUMBER in place of the value, and the range the message must state.
        let fields: [(String, String)] = [
            ("    cpus: NUMBER", "from 1 to 255"),
            ("    devices: [{type: net, network: lan, mtu: NUMBER}]", "from 68 to 65535"),
            ("    devices: [{type: vsock, cid: NUMBER}]", "from 3 to 4294967294"),
            ("    devices: [{type: block, image: disk.img, queues: NUMBER}]", "from 1 to 64"),
        ]
        for (template, range) in fields {
            let column = template.distance(from: template.startIndex, to: template.range(of: "NUMBER")!.lowerBound) + 1
            for value in ["99999999999999999999", "-99999999999999999999", "-1", "0", "4294967295", "9223372036854775807:0",
                          "1:1:1:1:1:1:1:1:1:1:1:1", "1e300", ".inf", "0x10", "010"] {
                let r = s.load("profile: development\nnetworks: [{name: lan}]\nvms:\n  - name: a\n    kernel: vmlinuz\n    initrd: initrd\n"
                               + template.replacingOccurrences(of: "NUMBER", with: value) + "\n")
                let e = r.errors
                #expect(e.count == 1 && e[0].line == 7 && e[0].column == column, "\(template) \(value): \(errors(r))")
                #expect(e.first?.message.contains(range) == true, "\(template) \(value): \(errors(r))")
            }
        }
        let network = s.load("profile: development\nnetworks: [{name: lan, mtu: 99999999999999999999}]\nvms: [{name: a, kernel: vmlinuz, initrd: initrd}]\n")
        #expect(errors(network) == ["2:29 'networks[0].mtu' is 99999999999999999999; it must be a whole number from 68 to 65535"])
    }

    @Test func theLargestAllowedValuesAreAccepted() throws {
        let r = s.load("""
            profile: development
            networks: [{name: lan, mtu: 65535}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, cpus: 255, memory: 256G,
                 devices: [{type: entropy}, {type: vsock, cid: 4294967294}, {type: block, image: disk.img, queues: 64}, {type: net, network: lan, mtu: 68}]}
            """)
        let vm = try #require(r.platform?.vms.first, "\(errors(r))")
        #expect(vm.cpus == 255 && vm.memoryMiB == 256 * 1024)
        #expect(vm.devices[1].cid == 4_294_967_294 && vm.devices[2].block?.queueCount == 64 && vm.devices[3].net?.mtu == 68)
    }

    @Test("quoted numbers are strings, with a position")
    func quotedNumbersAreRefused() {
        #expect(errors(vm("cpus: '4'")) == ["4:11 'vms[0].cpus' must be a whole number from 1 to 255"])
    }
}
