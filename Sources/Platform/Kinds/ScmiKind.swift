import Devices
import Foundation
import Virtio
import ServerCommands

/// virtio-scmi (VIRTIO 1.2 §5.21; Arm SCMI, DEN0056; {AVPS-v2.0-36}, {AVPS-v2.0-39}): a VM's SCMI
/// sensors and performance, power and reset domains, served by the platform's one `avp serve
/// scmi`. Each VM declares what it sees (numbered from 0 in its order); VMs naming the same sensor
/// or domain share it — one physical performance domain runs at the highest level its VMs ask,
/// capped by the host's limit (`avp scmi limit`); a shared power domain is on while any VM wants
/// it — and must declare it alike (`avp check` says where they differ). Sensor values come from
/// the simulated vehicle's signals (`signals: FILE.csv`, the same file for every VM) or host
/// hwmon/IIO files. Arm VMs only: QEMU's vhost-user-scmi is in qemu-system-aarch64, and Linux
/// finds the device through the device tree's `/firmware/scmi` (`ScmiFirmwareNode`).
enum ScmiKind: DeviceKindDefinition {
    struct Settings: Sendable, ScmiTopologyProviding {
        /// The CSV's absolute path.
        var signals: String?
        var signalMode: ScmiSignalTrace.Mode
        var sensors: [ScmiSensorOption]
        var performance: [ScmiPerformanceOption]
        /// Index in `performance` of the domain the VM's CPUs run in.
        var cpuDomain: Int?
        var power: [ScmiPowerOption]
        var reset: [String]

        var scmiTopology: ScmiTopology {
            ScmiTopology(sensorCount: sensors.count, performanceDomains: performance.count, cpuPerformanceDomain: cpuDomain,
                         powerDomains: power.count, resetDomains: reset.count)
        }
    }

    static let kind = DeviceKind.scmi
    static let virtioID = VirtioDeviceType.scmi
    static let server = "scmi"
    static let maxItems = 32
    static let name = "[A-Za-z0-9_.-]{1,15}"
    static let units = ScmiSensorUnit.allCases.map { NSRegularExpression.escapedPattern(for: $0.rawValue) }.joined(separator: "|")

    static let signals = OptionKey<String>("signals", .string(
        "The simulated vehicle's signals (scmi): a CSV with the header time_s,SIGNAL,... and rows of numbers, played in a loop; "
            + "every VM naming it names the same file (avp scmi set overrides a signal)."))
    static let signalMode = OptionKey<String>("signal-mode", .string(
        "How simulated signals move between the CSV's rows (scmi).", values: ScmiSignalTrace.Mode.allCases.map(\.rawValue)))
    static let sensors = OptionKey<[String]>("sensors", .array(
        "The VM's SCMI sensors (scmi), 0, 1, … in this order: NAME:UNIT (the signal NAME of 'signals'), NAME:UNIT:signal=SIGNAL, "
            + "or NAME:UNIT:file=/sys/class/hwmon/hwmonN/temp1_input (or an IIO in_*_raw file); m/s2 and rad/s sensors have "
            + "three axes read from SIGNAL_x, SIGNAL_y and SIGNAL_z (Linux: an IIO device). Units: "
            + ScmiSensorUnit.allCases.map(\.rawValue).joined(separator: ", ") + ".",
        items: .string("A sensor.", pattern: "^\(name):(\(units))(:(signal=[A-Za-z0-9_.-]{1,31}|file=/.+))?$"), count: 0...maxItems))
    static let performanceDomains = OptionKey<[String]>("performance-domains", .array(
        "The VM's SCMI performance domains (scmi): NAME:KHZ+KHZ+... (levels in kHz, ascending)[:limit=KHZ] (the host's cap); "
            + "VMs naming the same domain share it: it runs at the highest level they ask, capped by the limit.",
        items: .string("A performance domain.", pattern: "^\(name):[0-9]{1,10}(\\+[0-9]{1,10})*(:limit=[0-9]{1,10})?$"), count: 0...maxItems))
    static let cpuPerformanceDomain = OptionKey<String>("cpu-performance-domain", .string(
        "The performance domain (one of performance-domains) the VM's CPUs run in: Linux's scmi-cpufreq drives it (scmi).",
        pattern: "^\(name)$"))
    static let powerDomains = OptionKey<[String]>("power-domains", .array(
        "The VM's SCMI power domains (scmi): NAME, or NAME:off (off at start); a shared one is on while any VM wants it.",
        items: .string("A power domain.", pattern: "^\(name)(:off)?$"), count: 0...maxItems))
    static let resetDomains = OptionKey<[String]>("reset-domains", .array(
        "The VM's SCMI reset domains (scmi): resets are logged and counted (avp scmi status).",
        items: .string("A reset domain.", pattern: "^\(name)$"), count: 0...maxItems))
    static let options: [any DeviceOption] = [signals, signalMode, sensors, performanceDomains, cpuPerformanceDomain, powerDomains, resetDomains]
    static let sharedServers = SharedServers.refused(reason: "one SCMI server serves every VM of the platform, each with its own sensors and domains",
                                                     fix: "give each VM '- type: scmi' with its sensors and domains; VMs naming the same domain share it")
    static let perVM = PerVMRule(limit: 1, noun: "an SCMI device", architecture: .aarch64)

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case .vm = rules.user else { return nil }
        var ok = true
        var settings = Settings(signals: options[signals].map(rules.absolute), signalMode: .interpolate, sensors: [], performance: [],
                                cpuDomain: nil, power: [], reset: options[resetDomains] ?? [])
        if let mode = options[signalMode] { settings.signalMode = ScmiSignalTrace.Mode(rawValue: mode) ?? .interpolate }
        if let file = settings.signals {
            ok = same("signals", "\(file) \(settings.signalMode)", at: signals.name, what: "the signal file and mode", rules: &rules) && ok
        }
        let trace = traceSignals(settings.signals, rules: &rules)
        for (i, text) in (options[sensors] ?? []).enumerated() {
            let parts = text.split(separator: ":", maxSplits: 2).map(String.init)
            guard parts.count >= 2, let unit = ScmiSensorUnit(rawValue: parts[1]) else { ok = false; continue }
            var source = ScmiSensorOption.Source.signal(parts[0])
            if parts.count == 3 {
                source = parts[2].hasPrefix("file=") ? .file(String(parts[2].dropFirst(5))) : .signal(String(parts[2].dropFirst(7)))
            }
            let at = "\(sensors.name)[\(i)]"
            switch source {
            case let .signal(signal):
                let columns = unit.isThreeAxis ? ScmiSensorUnit.axisSuffixes.map { signal + $0 } : [signal]
                if settings.signals == nil {
                    rules.error(at, "sensor '\(parts[0])' reads signal '\(signal)', but the VM names no signal file", fix: "add 'signals: FILE.csv'")
                    ok = false
                } else if let trace, let missing = columns.first(where: { !trace.contains($0) }) {
                    rules.error(at, "signal '\(missing)' is not a column of \(UserText.shortened(settings.signals!, limit: 200))",
                                fix: "use one of: \(trace.joined(separator: ", "))\(unit.isThreeAxis ? " (a three-axis sensor reads SIGNAL_x, _y and _z)" : "")")
                    ok = false
                }
            case let .file(path):
                if unit.isThreeAxis {
                    rules.error(at, "a three-axis sensor (\(unit.rawValue)) reads signals SIGNAL_x, _y and _z, not a file")
                    ok = false
                }
                if rules.checkFiles, !FileManager.default.isReadableFile(atPath: path) {
                    rules.error(at, "host sensor file \(UserText.shortened(path, limit: 200)) cannot be read", fix: "name a hwmon *_input or IIO in_*_raw file")
                    ok = false
                }
                if path.contains(",") { rules.error(at, "the path has a ','"); ok = false }
            }
            let option = ScmiSensorOption(name: parts[0], unit: unit, source: source)
            ok = same("sensor \(option.name)", option.text, at: at, what: "sensor '\(option.name)'", rules: &rules) && ok
            settings.sensors.append(option)
        }
        for (i, text) in (options[performanceDomains] ?? []).enumerated() {
            let at = "\(performanceDomains.name)[\(i)]"
            let parts = text.split(separator: ":").map(String.init)
            let levels = parts.count > 1 ? parts[1].split(separator: "+").compactMap { UInt32($0) } : []
            let limit = parts.count > 2 ? UInt32(parts[2].dropFirst(6)) : nil
            let option = ScmiPerformanceOption(name: parts[0], levels: levels, limit: limit)
            do { _ = try option.domain } catch {
                rules.error(at, "\(error)", fix: "give levels in kHz, ascending, such as cpu:600000+1200000+1800000")
                ok = false
                continue
            }
            ok = same("performance \(option.name)", option.text, at: at, what: "performance domain '\(option.name)'", rules: &rules) && ok
            settings.performance.append(option)
        }
        for (i, text) in (options[powerDomains] ?? []).enumerated() {
            let option = ScmiPowerOption(name: String(text.split(separator: ":")[0]), initiallyOn: !text.hasSuffix(":off"))
            ok = same("power \(option.name)", option.text, at: "\(powerDomains.name)[\(i)]", what: "power domain '\(option.name)'", rules: &rules) && ok
            settings.power.append(option)
        }
        for (what, names) in [("sensor", settings.sensors.map(\.name)), ("performance domain", settings.performance.map(\.name)),
                              ("power domain", settings.power.map(\.name)), ("reset domain", settings.reset)] {
            if let twice = GpioServeOptions.firstDuplicate(names) {
                rules.error(nil, "\(what) '\(twice)' is given twice", fix: "name each once")
                ok = false
            }
        }
        if let cpu = options[cpuPerformanceDomain] {
            settings.cpuDomain = settings.performance.firstIndex { $0.name == cpu }
            if settings.cpuDomain == nil {
                rules.error(cpuPerformanceDomain.name, "'\(cpu)' is not one of the VM's performance-domains",
                            fix: "add it to performance-domains or name one of: \(settings.performance.map(\.name).joined(separator: ", "))")
                ok = false
            }
        }
        if settings.sensors.isEmpty, settings.performance.isEmpty, settings.power.isEmpty, settings.reset.isEmpty {
            rules.error(nil, "an SCMI device needs sensors or domains",
                        fix: "add e.g. 'sensors: [coolant:celsius]' with 'signals: car.csv', or 'power-domains: [gpu]'")
            ok = false
        }
        return ok ? settings : nil
    }

    /// A shared item must be declared alike by every VM naming it.
    private static func same(_ key: String, _ definition: String, at: String, what: String, rules: inout KindRules) -> Bool {
        let first = rules.claim(key, in: "scmi")
        let alike = rules.claim(key + "\u{0}" + definition, in: "scmi-definitions")
        guard let first, alike == nil else { return true }
        rules.error(at, "\(what) is declared differently by \(first)", fix: "declare it the same way in every VM that names it")
        return false
    }

    /// The signal file's columns (nil when files are not checked or it cannot be read; errors reported).
    private static func traceSignals(_ path: String?, rules: inout KindRules) -> [String]? {
        guard let path, rules.checkFiles else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            rules.error(signals.name, "signal file \(UserText.shortened(path, limit: 200)) cannot be read")
            return nil
        }
        do { return try ScmiSignalTrace(csv: text).signals } catch {
            rules.error(signals.name, "\(UserText.shortened(path, limit: 200)): \(error)")
            return nil
        }
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { server }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let s = slot.settings
        let socket = plan.socket("scmi-\(slot.vm)")
        let control = plan.state.scmiControlSocket
        plan.server(server, kind: kind, create: { ScmiServeOptions(signals: s.signals, signalMode: s.signalMode, control: control) }) { o in
            if o.signals == nil { o.signals = s.signals }
            for sensor in s.sensors where !o.sensor.contains(where: { $0.name == sensor.name }) { o.sensor.append(sensor) }
            for d in s.performance where !o.performanceDomain.contains(where: { $0.name == d.name }) { o.performanceDomain.append(d) }
            for d in s.power where !o.powerDomain.contains(where: { $0.name == d.name }) { o.powerDomain.append(d) }
            for d in s.reset where !o.resetDomain.contains(d) { o.resetDomain.append(d) }
            o.vm.append(ScmiVMOption(name: slot.vm, endpoint: .connect(socket), sensors: s.sensors.map(\.name),
                                     performance: s.performance.map(\.name), power: s.power.map(\.name), reset: s.reset))
        }
        plan.restartingVMs(withServer: server, because: "Linux's SCMI agent does not survive a new platform (its protocols are probed once)")
        plan.vm.command.vhostUserDevices.append(.init(model: .scmi, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,sensors", .strings(settings.sensors.map(\.name))), ("avp,performance-domains", .strings(settings.performance.map(\.name))),
         ("avp,power-domains", .strings(settings.power.map(\.name))), ("avp,reset-domains", .strings(settings.reset))]
    }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-scmi (hw/virtio/vhost-user-scmi.c: cmdq and eventq, no configuration space).
    public static let scmi = QemuDeviceModel(pci: "vhost-user-scmi-pci", mmio: "vhost-user-scmi")
}

extension StateDirectory {
    /// The SCMI server's control socket (`avp scmi`).
    public var scmiControlSocket: String { socketDirectory + "/scmi-control.sock" }
}

extension Platform {
    /// Whether any VM has an SCMI device (`avp scmi` then has a server to ask).
    public var hasScmi: Bool { vms.contains { $0.devices.contains { $0.kind == .scmi } } }
}
