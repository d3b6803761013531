import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// `- type: input`: a touchscreen per VM, sized like the VM's first layer, its server's
/// options round-tripping through `avp serve input`'s arguments.
@Suite struct InputKindTests {
    let s: Scratch
    init() throws { s = try Scratch() }

    static let platform = """
        profile: production
        displays:
          - name: cockpit
            mode: 1920x1080@60
            size: 293x165
            layers:
              - {vm: cluster, at: [0, 0, 1920, 720]}
              - {vm: ivi, at: [0, 720, 1280, 360]}
        vms:
          - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: gpu}, {type: input, name: ivi screen}]}
          - {name: cluster, machine: microvm, kernel: vmlinuz, initrd: initrd, devices: [{type: input}, {type: gpu}]}
          - {name: rear, kernel: vmlinuz, initrd: initrd, devices: [{type: input}]}
        """

    @Test("each VM's touchscreen has its first layer's size (1920x1080 without one), a server and a QEMU device")
    func planned() throws {
        let state = s.directory + "/state"
        let p = try s.plan(Self.platform, stateDirectory: state)
        let servers = p.servers.filter { $0.kind == .input }
        #expect(servers.map(\.name) == ["ivi-input1", "cluster-input0", "rear-input0"])
        let options = try servers.map { try InputServeOptions.parse(Array($0.arguments.dropFirst(2))) }
        #expect(options.map(\.size) == [TouchscreenSize(width: 1280, height: 360), TouchscreenSize(width: 1920, height: 720), .standard])
        #expect(options.map(\.name) == ["ivi screen", Touchscreen.defaultName, Touchscreen.defaultName])
        #expect(options[0].endpoints.connect == [state + "/sockets/ivi-input1.sock"] && options[0].endpoints.socket.isEmpty)
        #expect(options.map(\.eventsSocket) == ["ivi", "cluster", "rear"].map { state + "/sockets/input-\($0).events" })
        #expect(servers.map(\.sockets) == ["ivi", "cluster", "rear"].map { [state + "/sockets/input-\($0).events"] })
        #expect(p.vms[0].servers.contains("ivi-input1"))
        let ivi = p.vms[0].command.arguments.joined(separator: " ")
        let cluster = p.vms[1].command.arguments.joined(separator: " ")
        #expect(ivi.contains("vhost-user-input-pci,chardev=input1"), "\(ivi)")
        #expect(cluster.contains("vhost-user-input,chardev=input0"), "\(cluster)")
    }

    @Test("avp describe shows the touchscreen's size and name")
    func deviceTree() throws {
        let platform = try #require(s.load(Self.platform).platform)
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[2], plan: nil)
        let text = DeviceTreeSource.render(tree)
        #expect(text.contains("avp,size = \"1920x1080\"") && text.contains("avp,name = \"AVP touch\""), "\(text)")
    }

    @Test("one touchscreen per VM, never a shared server, and a name the guest can show")
    func rules() {
        let e = errors(s.load("""
            profile: development
            servers: [{name: touch, type: input}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: input}, {type: input}]}
            """))
        #expect(e.contains { $0.contains("a touchscreen belongs to one VM's display and cannot be shared") }, "\(e)")
        #expect(e.contains { $0.contains("VM 'a' already has an input device") }, "\(e)")
        let names = errors(s.load("""
            profile: development
            vms:
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: input, name: "caf\\u00e9"}]}
              - {name: c, kernel: vmlinuz, initrd: initrd, devices: [{type: input, name: ""}]}
            """))
        #expect(names.count == 2 && names.allSatisfy { $0.contains("name") && $0.contains("does not match") }, "\(names)")
    }

    @Test("avp serve input options: a round trip, and each refusal")
    func serveOptions() throws {
        let options = InputServeOptions(endpoints: ServeEndpoints(socket: ["/s/touch.sock"], connect: []),
                                        size: TouchscreenSize(width: 800, height: 480), name: "AVP touch", eventsSocket: "/s/e")
        let back = try InputServeOptions.parse(options.arguments)
        #expect(back.endpoints.socket == ["/s/touch.sock"] && back.size == TouchscreenSize(width: 800, height: 480)
                && back.name == "AVP touch" && back.eventsSocket == "/s/e")
        #expect(options.commandLine.prefix(2) == ["serve", "input"])
        let plain = try InputServeOptions.parse(["--socket", "/t"])
        #expect(plain.size == .standard && plain.name == Touchscreen.defaultName && plain.eventsSocket == nil)
        for bad in [["--socket", "/a", "--socket", "/b"], [], ["--socket", "/a", "--size", "0x10"], ["--socket", "/a", "--size", "100x"],
                    ["--socket", "/a", "--size", "20000x10"], ["--socket", "/a", "--size", "640x480@60"],
                    ["--socket", "/a", "--name", String(repeating: "n", count: 64)], ["--socket", "/a", "--name", "tab\there"]] {
            #expect(throws: (any Error).self, "\(bad)") { try InputServeOptions.parse(bad) }
        }
    }
}
