import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// `- type: scmi` (AVPS-v2.0-36, AVPS-v2.0-39): each arm64 VM's sensors and domains, one
/// platform-wide `avp serve scmi`; VMs naming the same domain share it and must declare it alike.
@Suite struct ScmiKindTests {
    let s: Scratch
    init() throws {
        s = try Scratch()
        try "time_s,speed,coolant,battery\n0,0,20,12.5\n60,30,90,14\n".write(toFile: s.directory + "/car.csv", atomically: true, encoding: .utf8)
    }

    static let platform = """
        profile: development
        vms:
          - name: ecu
            arch: aarch64
            kernel: vmlinuz
            initrd: initrd
            devices:
              - {type: entropy}
              - type: scmi
                signals: car.csv
                sensors: [coolant:celsius, "vbat:volts:signal=battery"]
                performance-domains: ["cpu:600000+1200000+1800000:limit=1200000"]
                cpu-performance-domain: cpu
                power-domains: [gpu, "audio:off"]
                reset-domains: [modem]
          - name: cluster
            arch: aarch64
            kernel: vmlinuz
            initrd: initrd
            devices:
              - {type: entropy}
              - {type: scmi, signals: car.csv, sensors: ["speed:m/s"], performance-domains: ["cpu:600000+1200000+1800000:limit=1200000"], power-domains: [gpu]}
        """

    @Test("one scmi server serves each VM its view; each VM gets a vhost-user-scmi device and /firmware/scmi")
    func planned() throws {
        let state = s.directory + "/state"
        let p = try s.plan(Self.platform, stateDirectory: state)
        let servers = p.servers.filter { $0.kind == .scmi }
        try #require(servers.map(\.name) == ["scmi"])
        let o = try ScmiServeOptions.parse(Array(servers[0].arguments.dropFirst(2)))
        #expect(o.signals == s.directory + "/car.csv")
        #expect(o.sensor.map(\.name) == ["coolant", "vbat", "speed"])
        #expect(o.sensor[1].source == .signal("battery"))
        #expect(o.performanceDomain == [ScmiPerformanceOption(name: "cpu", levels: [600_000, 1_200_000, 1_800_000], limit: 1_200_000)])
        #expect(o.powerDomain == [ScmiPowerOption(name: "gpu"), ScmiPowerOption(name: "audio", initiallyOn: false)])
        #expect(o.vm == [ScmiVMOption(name: "ecu", endpoint: .connect(state + "/sockets/scmi-ecu.sock"), sensors: ["coolant", "vbat"],
                                      performance: ["cpu"], power: ["gpu", "audio"], reset: ["modem"]),
                         ScmiVMOption(name: "cluster", endpoint: .connect(state + "/sockets/scmi-cluster.sock"), sensors: ["speed"],
                                      performance: ["cpu"], power: ["gpu"])])
        #expect(o.control == state + "/sockets/scmi-control.sock")
        #expect(p.vms[0].command.arguments.joined(separator: " ").contains("-device vhost-user-scmi,chardev=scmi1"))
    }

    @Test("avp check: x86 VMs, unknown signals, domains declared differently, unknown CPU domain, nothing declared, shared servers")
    func rules() {
        let e = errors(s.load("""
            profile: development
            servers: [{name: s, type: scmi}]
            vms:
              - {name: pc, kernel: vmlinuz, initrd: initrd, devices: [{type: scmi, power-domains: [gpu]}]}
              - {name: a, arch: aarch64, kernel: vmlinuz, initrd: initrd, devices: [{type: scmi, signals: car.csv, sensors: ["oil:celsius"], performance-domains: ["cpu:1+2"], cpu-performance-domain: gpu}]}
              - {name: b, arch: aarch64, kernel: vmlinuz, initrd: initrd, devices: [{type: scmi, performance-domains: ["cpu:1+3"]}]}
              - {name: c, arch: aarch64, kernel: vmlinuz, initrd: initrd, devices: [{type: scmi}]}
              - {name: d, arch: aarch64, kernel: vmlinuz, initrd: initrd, devices: [{type: scmi, sensors: ["t:celsius"]}]}
              - {name: f, arch: aarch64, kernel: vmlinuz, initrd: initrd, devices: [{type: scmi, performance-domains: ["x:3+2"]}]}
            """))
        for expected in ["VM 'pc' is x86_64, but an SCMI device needs an aarch64 VM", "signal 'oil' is not a column of",
                         "performance domain 'cpu' is declared differently by VM 'a'", "'gpu' is not one of the VM's performance-domains",
                         "an SCMI device needs sensors or domains", "the VM names no signal file", "strictly ascending",
                         "one SCMI server serves every VM"] {
            #expect(e.contains { $0.contains(expected) }, "\(expected): \(e)")
        }
        let fine = s.load(Self.platform)
        #expect(fine.errors.isEmpty, "\(errors(fine))")
    }
}
