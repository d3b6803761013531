import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// `- type: i2c`: one I2C server for the platform, each VM's adapter with its own targets
/// (issue 13), its EEPROMs kept in the state directory unless the file names one.
@Suite struct I2cKindTests {
    let s: Scratch
    init() throws { s = try Scratch() }

    static let platform = """
        profile: development
        vms:
          - name: ivi
            kernel: vmlinuz
            initrd: initrd
            devices:
              - {type: i2c, targets: [eeprom@0x50, "temperature@0x48:21.5"]}
          - name: cluster
            kernel: vmlinuz
            initrd: initrd
            devices:
              - {type: i2c, targets: ["eeprom@0x50:board.eeprom", temperature@0x49]}
        """

    @Test("one server for every VM, a --vm and --targets each, EEPROM files in the state directory, the control socket")
    func planned() throws {
        let state = s.directory + "/state"
        let p = try s.plan(Self.platform, stateDirectory: state)
        let servers = p.servers.filter { $0.kind == .i2c }
        #expect(servers.map(\.name) == ["i2c"])
        let options = try I2cServeOptions.parse(Array(try #require(servers.first).arguments.dropFirst(2)))
        #expect(options.vm == [VMEndpointOption(name: "ivi", endpoint: .connect(state + "/sockets/i2c-ivi.sock")),
                               VMEndpointOption(name: "cluster", endpoint: .connect(state + "/sockets/i2c-cluster.sock"))])
        #expect(options.target.map(\.text) == [
            "ivi=eeprom@0x50:\(state)/i2c-ivi-0x50.eeprom", "ivi=temperature@0x48:21.5",
            "cluster=eeprom@0x50:\(s.directory)/board.eeprom", "cluster=temperature@0x49:25",
        ])
        #expect(options.control == state + "/sockets/i2c-control.sock")
        let ivi = p.vms[0].command.arguments.joined(separator: " ")
        #expect(ivi.contains("vhost-user-i2c-pci,chardev=i2c0"), "\(ivi)")
        #expect(p.vms.allSatisfy { $0.servers.contains("i2c") })
    }

    @Test("avp describe lists the targets")
    func deviceTree() throws {
        let platform = try #require(s.load(Self.platform).platform)
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil)
        let text = DeviceTreeSource.render(tree)
        #expect(text.contains("avp,targets = \"eeprom@0x50\", \"temperature@0x48:21.5\""), "\(text)")
    }

    @Test("avp check: addresses 0x08–0x77, no two targets at one address, one owner per EEPROM file and host target")
    func rules() throws {
        let schema = errors(s.load("""
            profile: development
            vms: [{name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: i2c, targets: ["rom@0x51"]}]}]
            """))
        #expect(schema.count == 1 && schema[0].contains("does not match"), "\(schema)")
        let e = errors(s.load("""
            profile: development
            servers: [{name: bus, type: i2c}]
            vms:
              - name: a
                kernel: vmlinuz
                initrd: initrd
                devices:
                  - {type: i2c, targets: [eeprom@0x78, "temperature@0x48:300", eeprom@0x50, temperature@0x50, "host@0x1d:/nonexistent/i2c-9"]}
                  - {type: i2c, targets: [eeprom@0x52]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: i2c, targets: ["eeprom@0x50:shared.img", "eeprom@0x51:shared.img"]}]}
              - {name: c, kernel: vmlinuz, initrd: initrd, devices: [{type: i2c}]}
              - {name: d, kernel: vmlinuz, initrd: initrd, devices: [{type: i2c, targets: ["eeprom@0x50:nodir/x.eeprom"]}]}
            """))
        let expected = [
            "one I2C server serves every VM", "VM 'a' already has an I2C adapter", "address 0x78 is reserved",
            "temperature '300'", "0x50 is already eeprom@0x50", "host I2C adapter /nonexistent/i2c-9 does not exist",
            "has 4096 bytes, not the 256", "also does", "an I2C adapter needs its targets", "the directory of EEPROM file",
        ]
        for text in expected { #expect(e.contains { $0.contains(text) }, "\(text): \(e)") }
    }

    @Test("avp serve i2c options: round trips (standalone and per VM), and each refusal")
    func serveOptions() throws {
        let standalone = I2cServeOptions(endpoints: ServeEndpoints(socket: ["/s/i2c.sock"], connect: []), vms: [],
                                         targets: [try .init(parsing: "eeprom@0x50:/s/e.bin"), try .init(parsing: "temperature@0x48:-3.5")],
                                         control: "/s/c.sock")
        let back = try I2cServeOptions.parse(standalone.arguments)
        #expect(back.arguments == standalone.arguments)
        #expect(back.servedVMs.map(\.name) == ["guest"])
        #expect(back.servedVMs[0].targets == [.eeprom(I2cAddress(0x50)!, file: "/s/e.bin"), .temperature(I2cAddress(0x48)!, celsius: -3.5)])
        #expect(standalone.commandLine.prefix(2) == ["serve", "i2c"])
        let platform = I2cServeOptions(vms: [VMEndpointOption(name: "ivi", endpoint: .connect("/s/a")), VMEndpointOption(name: "rear", endpoint: .listen("/s/b"))],
                                       targets: [try .init(parsing: "ivi=host@0x1d:/dev/i2c-1"), try .init(parsing: "rear=eeprom@0x50")],
                                       control: nil)
        let again = try I2cServeOptions.parse(platform.arguments)
        #expect(again.arguments == platform.arguments)
        #expect(again.servedVMs.map(\.targets) == [[.host(I2cAddress(0x1d)!, bus: "/dev/i2c-1")], [.eeprom(I2cAddress(0x50)!, file: nil)]])
        for bad in [[], ["--socket", "/a", "--socket", "/b"], ["--socket", "/a", "--target", "ivi=eeprom@0x50"],
                    ["--vm", "name=a,listen=/a", "--target", "eeprom@0x50"], ["--vm", "name=a,listen=/a", "--target", "b=eeprom@0x50"],
                    ["--socket", "/a", "--target", "eeprom@0x50", "--target", "temperature@0x50"],
                    ["--socket", "/a", "--target", "eeprom@0x7f"], ["--vm", "name=a,listen=/a", "--vm", "name=a,listen=/b"],
                    ["--vm", "name=A,listen=/a"]] {
            #expect(throws: (any Error).self, "\(bad)") { try I2cServeOptions.parse(bad) }
        }
    }
}
