import ArgumentParser
import Devices
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VhostUser

struct ServeScmi: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ScmiServeOptions.command,
        abstract: "virtio-scmi back end (VIRTIO 1.2 §5.21, Arm SCMI): sensors, performance, power and reset domains shared by VMs; AVPS-v2.0-36/39.",
        discussion: """
            QEMU example (arm64; vhost-user-scmi exists only in qemu-system-aarch64; the guest's device tree needs \
            /firmware/scmi { compatible = "arm,scmi-virtio"; ... }, which avp describe writes):
              -chardev socket,id=scmi,path=PATH
              -device vhost-user-scmi,chardev=scmi

            Guest RAM must be shared with the server:
              -object memory-backend-memfd,id=mem,size=512M,share=on
              -machine virt,memory-backend=mem

            Sensors read a simulated vehicle signal (--signals CSV played in a loop, --signal NAME=VALUE constants; \
            avp scmi set overrides one) or a host hwmon/IIO file, in thousandths of their unit (hwmon shows millidegrees, \
            millivolts). Performance domains: the highest level VMs request, capped by limit= (avp scmi limit); LEVEL_GET \
            reads that. Power domains are on while any VM wants them on. Standalone (--socket or --connect), the VM sees \
            everything declared; for a platform, a --vm per VM names what it sees, numbered from 0.
            """)

    @OptionGroup var options: ScmiServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("scmi", logging: logging, sandbox: activeSandbox) { logger in
            var trace: ScmiSignalTrace?
            if let file = options.signals {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                do { trace = try ScmiSignalTrace(csv: text, mode: options.signalMode) } catch { throw CommandFailure("\(file): \(error)") }
            }
            let constants = Dictionary(options.signal.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            let signals = trace == nil && constants.isEmpty ? nil : try ScmiSignals(trace: trace, constants: constants)
            var sensors: [ScmiHostSensor] = []
            for s in options.sensor {
                var sources: [any ScmiSensorSource] = []
                switch s.source {
                case let .signal(name):
                    guard let signals else { throw CommandFailure("sensor '\(s.name)': no signals are declared") }
                    // A three-axis sensor reads NAME_x, NAME_y and NAME_z.
                    for signal in s.unit.isThreeAxis ? ScmiSensorUnit.axisSuffixes.map({ name + $0 }) : [name] {
                        do { sources.append(try ScmiSignalSensor(signals: signals, signal: signal)) } catch {
                            throw CommandFailure("sensor '\(s.name)': \(error); signals: \(signals.names.joined(separator: ", "))")
                        }
                    }
                case let .file(path):
                    guard !s.unit.isThreeAxis else { throw CommandFailure("sensor '\(s.name)': a three-axis sensor reads signals, not a file") }
                    do { sources.append(try ScmiHostSensorFile(path: path)) } catch { throw CommandFailure("sensor '\(s.name)': \(error)") }
                }
                sensors.append(s.unit.isThreeAxis ? ScmiHostSensor(name: s.name, unit: s.unit, axes: sources)
                                                  : ScmiHostSensor(name: s.name, unit: s.unit, source: sources[0]))
            }
            let topology = try ScmiHostTopology(sensors: sensors, performance: try options.performanceDomain.map { try $0.domain },
                                                power: try options.powerDomain.map { try ScmiPowerDomain(name: $0.name, initiallyOn: $0.initiallyOn) },
                                                reset: options.resetDomain)
            let host = ScmiHost(topology: topology, logger: logger)
            var devices: [ScmiDevice] = []
            var servers: [VhostUserServer] = []
            for vm in options.servedVMs {
                let view = try ScmiAgentView(vm: vm.name, topology: topology, sensors: vm.sensors, performance: vm.performance,
                                             power: vm.power, reset: vm.reset)
                let device = try ScmiDevice(view: view, host: host, logger: logger)
                devices.append(device)
                servers.append(try VhostUserServer(endpoint: vm.endpoint, device: device, logger: logger))
                logger.info("scmi: VM '\(vm.name)': sensors [\(vm.sensors.joined(separator: ", "))], performance [\(vm.performance.joined(separator: ", "))], power [\(vm.power.joined(separator: ", "))], reset [\(vm.reset.joined(separator: ", "))]")
            }
            let control = try options.control.map { try ScmiControlServer(path: $0, host: host, signals: signals, logger: logger) }
            logger.info("scmi: \(sensors.count) sensors, \(topology.performance.count) performance, \(topology.power.count) power, \(topology.reset.count) reset domains\(trace.map { ", signals playing in a \($0.period) s loop" } ?? "")")
            return .init(servers: servers) {
                control?.stop()
                for device in devices {
                    let s = device.statistics
                    logger.info("statistics: vm=\(device.vm) commands=\(s.commands) refused=\(s.refused) dropped=\(s.dropped) notifications=\(s.notifications) notifications-lost=\(s.notificationsLost)")
                }
            }
        }
    }
}
