import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// `- type: gpio`: a VM's owned and read-only lines on a block, one server per block
/// (AVPS-v2.0-37); `avp check` refuses a line with two owners.
@Suite struct GpioKindTests {
    let s: Scratch
    init() throws { s = try Scratch() }

    static let platform = """
        profile: production
        vms:
          - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpio, lines: [door-open, reverse-gear], read-only-lines: [ignition]}]}
          - {name: cluster, machine: microvm, kernel: vmlinuz, initrd: initrd, devices: [{type: gpio, lines: [seat-heater], read-only-lines: [ignition, reverse-gear]}]}
          - {name: rear, kernel: vmlinuz, initrd: initrd, devices: [{type: gpio, chip: /dev/gpiochip1, lines: [lamp], chip-offsets: [lamp=4]}]}
        """

    @Test("one server per block serves each VM its lines; each VM gets a vhost-user-gpio device")
    func planned() throws {
        let state = s.directory + "/state"
        let p = try s.plan(Self.platform, stateDirectory: state)
        let servers = p.servers.filter { $0.kind == .gpio }
        try #require(servers.map(\.name) == ["gpio", "gpio-gpiochip1"])
        let simulated = try GpioServeOptions.parse(Array(servers[0].arguments.dropFirst(2)))
        #expect(simulated.line.map(\.name) == ["door-open", "reverse-gear", "ignition", "seat-heater"])
        #expect(simulated.vm == [GpioVMOption(name: "ivi", endpoint: .connect(state + "/sockets/gpio-ivi.sock"), lines: ["door-open", "reverse-gear"], readOnly: ["ignition"]),
                                 GpioVMOption(name: "cluster", endpoint: .connect(state + "/sockets/gpio-cluster.sock"), lines: ["seat-heater"], readOnly: ["ignition", "reverse-gear"])])
        #expect(simulated.chip == nil && simulated.control == state + "/sockets/gpio-control.sock")
        let chip = try GpioServeOptions.parse(Array(servers[1].arguments.dropFirst(2)))
        #expect(chip.chip == "/dev/gpiochip1" && chip.line == [GpioLineOption(name: "lamp", offset: 4)])
        #expect(p.vms[0].command.arguments.joined(separator: " ").contains("vhost-user-gpio-pci,chardev=gpio1"))
        #expect(p.vms[1].command.arguments.joined(separator: " ").contains("vhost-user-gpio-device,chardev=gpio0"))
        let platform = try #require(s.load(Self.platform).platform)
        #expect(platform.gpioBlocks["gpio"] == ["door-open", "reverse-gear", "ignition", "seat-heater"])
    }

    @Test("avp check: a line owned twice, a line listed twice, no lines, offsets without a chip, shared servers")
    func rules() {
        let e = errors(s.load("""
            profile: development
            servers: [{name: pins, type: gpio}]
            vms:
              - {name: a, devices: [{type: gpio, lines: [door, lamp]}]}
              - {name: b, devices: [{type: gpio, lines: [door], read-only-lines: [lamp, lamp]}]}
              - {name: c, devices: [{type: gpio}]}
              - {name: d, devices: [{type: gpio, lines: [x], chip-offsets: [x=3]}]}
            """))
        for expected in ["line 'door' of the simulated block is already owned by VM 'a'", "line 'lamp' is given twice",
                         "a gpio device needs lines", "offsets need a chip", "a GPIO block is shared through its lines"] {
            #expect(e.contains { $0.contains(expected) }, "\(expected): \(e)")
        }
        let fine = s.load(Self.platform)
        #expect(fine.errors.isEmpty, "\(errors(fine))")
        let sameLineOnTwoBlocks = s.load("""
            profile: development
            vms:
              - {name: a, devices: [{type: gpio, lines: [door]}]}
              - {name: b, devices: [{type: gpio, chip: /dev/gpiochip0, lines: [door]}]}
            """)
        #expect(sameLineOnTwoBlocks.errors.isEmpty, "\(errors(sameLineOnTwoBlocks))")
    }
}
