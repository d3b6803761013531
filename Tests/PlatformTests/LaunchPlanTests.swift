import Foundation
import Platform
import Testing

@Suite struct LaunchPlans {
    let s: Scratch
    init() throws { s = try Scratch() }

    func plan(_ yaml: String) throws -> PlatformPlan { try s.plan(yaml, stateDirectory: "/tmp/avp-test-state") }

    @Test func sharedServersServeEveryVMFromOneProcess() throws {
        let p = try plan("""
            profile: development
            servers: [{name: rng, type: entropy}]
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy, server: rng}, {type: console}]}
              - {name: b, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy, server: rng}, {type: block, image: disk.img}]}
            """)
        let rng = try #require(p.servers.first { $0.name == "rng" })
        #expect(rng.arguments == ["serve", "entropy", "--connect", "/tmp/avp-test-state/sockets/rng-a.sock",
                                  "--connect", "/tmp/avp-test-state/sockets/rng-b.sock", "--sandbox", "namespace"])
        #expect(p.servers.map(\.name).sorted() == ["a-console1", "b-block1", "rng"])
        let a = try #require(p.vms.first { $0.name == "a" })
        let args = a.command.arguments.joined(separator: " ")
        #expect(args.contains("socket,id=entropy0,path=/tmp/avp-test-state/sockets/rng-a.sock,server=on,wait=on"))
        #expect(args.contains("socket,id=hvc0,path=/tmp/avp-test-state/sockets/a-console1.sock,reconnect-ms=500"))
        #expect(args.contains("virtconsole,chardev=hvc0,nr=0"))
        #expect(args.contains("console=hvc0 avp.getty=hvc0"))
        #expect(a.attachSocket == "/tmp/avp-test-state/sockets/a.console")
    }

    @Test("AVPS-v2.0-48: a production VM's QEMU command line has no console, serial port or monitor")
    func productionCommandLineIsLockedDown() throws {
        let p = try plan("""
            profile: production
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: block, image: disk.img}]}
            """)
        let args = p.vms[0].command.arguments
        #expect(!args.joined(separator: " ").contains("console"))
        #expect(!args.contains("-qmp"))
        for option in ["-serial", "-monitor", "-parallel"] {
            let i = try #require(args.firstIndex(of: option))
            #expect(args[i + 1] == "none")
        }
        #expect(p.vms[0].serialLogPath == nil)
        try ProductionLockdown.verify(args)
    }

    @Test("AVPS-v2.0-49: the last-line check refuses any console-like QEMU argument")
    func lockdownCatchesConsoles() {
        let base = ["-nodefaults", "-serial", "none", "-monitor", "none", "-display", "none"]
        for bad in [["-serial", "stdio"], ["-monitor", "stdio"], ["-qmp", "unix:/x"], ["-device", "virtconsole,chardev=c"],
                    ["-device", "virtio-serial-pci"], ["-chardev", "pty,id=c"], ["-append", "console=hvc0"], ["-gdb", "tcp::1234"]] {
            #expect(throws: ProductionLockdown.Violation.self) { try ProductionLockdown.verify(base + bad) }
        }
    }

    @Test func qemuBeforeNinePointTwoReconnectsTheOldWay() {
        #expect(QemuVersion(major: 7, minor: 2).reconnectOption == "reconnect=1")
        #expect(QemuVersion(major: 9, minor: 2).reconnectOption == "reconnect-ms=500")
    }
}
