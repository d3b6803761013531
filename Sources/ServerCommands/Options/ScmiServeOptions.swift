import ArgumentParser
import Devices
import VhostUser

/// `avp serve scmi`: one SCMI platform (DEN0056 over virtio-scmi, VIRTIO 1.2 §5.21) serving its
/// VMs: sensors whose values come from a simulated vehicle (`--signals` CSV, `--signal`
/// constants) or host hwmon/IIO files, and performance, power and reset domains that several
/// VMs may share. Standalone: one `--socket`/`--connect` VM that sees everything declared. For
/// a platform: a `--vm` per VM naming what it sees.
public struct ScmiServeOptions: EndpointServeOptions {
    public static let command = "scmi"
    /// The name a standalone endpoint's VM has in the logs and the control socket.
    public static let standaloneVM = "guest"

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("A CSV time series of the simulated vehicle's signals: header time_s,SIGNAL,..., rows of numbers; "
        + "played in a loop.", valueName: "file"))
    public var signals: String?
    @Option(help: "How a signal moves between the CSV's rows: interpolate or step.")
    public var signalMode: ScmiSignalTrace.Mode = .interpolate
    @Option(help: ArgumentHelp("A constant simulated signal NAME=VALUE (avp scmi set changes it) (repeat).", valueName: "name=value"),
            transform: ScmiServeOptions.constant(parsing:))
    public var signal: [ScmiConstantSignal] = []
    @Option(help: ArgumentHelp("A sensor: name=NAME,unit=UNIT,signal=SIGNAL or name=NAME,unit=UNIT,file=/sys/class/hwmon/hwmonN/temp1_input "
        + "(or an IIO in_*_raw file). Units: \(ScmiSensorUnit.allCases.map(\.rawValue).joined(separator: ", ")) (repeat)."),
            transform: ScmiSensorOption.init(parsing:))
    public var sensor: [ScmiSensorOption] = []
    @Option(help: ArgumentHelp("A performance domain: name=NAME,levels=KHZ+KHZ+...[,limit=KHZ] (the host's cap; avp scmi limit) (repeat)."),
            transform: ScmiPerformanceOption.init(parsing:))
    public var performanceDomain: [ScmiPerformanceOption] = []
    @Option(help: ArgumentHelp("A power domain NAME, on at start, or NAME,off (repeat).", valueName: "name[,off]"),
            transform: ScmiPowerOption.init(parsing:))
    public var powerDomain: [ScmiPowerOption] = []
    @Option(help: ArgumentHelp("A reset domain NAME (resets are logged and counted) (repeat).", valueName: "name"))
    public var resetDomain: [String] = []
    @Option(help: ArgumentHelp("A VM: name=NAME,listen=SOCKET|connect=SOCKET[,sensors=A+B][,performance=C][,power=D][,reset=E] "
        + "(repeat). It sees these, numbered from 0 in this order, and nothing else.", valueName: "vm"),
            transform: ScmiVMOption.init(parsing:))
    public var vm: [ScmiVMOption] = []
    @Option(help: ArgumentHelp("Listen on this Unix socket for the host's signal values and limits (avp scmi).", valueName: "socket"))
    public var control: String?

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    /// A server from values (the plan's; a standalone one has `endpoints` and no `vms`).
    public init(endpoints: ServeEndpoints = ServeEndpoints(socket: [], connect: []), signals: String? = nil,
                signalMode: ScmiSignalTrace.Mode = .interpolate, constants: [ScmiConstantSignal] = [], sensors: [ScmiSensorOption] = [],
                performance: [ScmiPerformanceOption] = [], power: [ScmiPowerOption] = [], reset: [String] = [],
                vms: [ScmiVMOption] = [], control: String? = nil) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.signals = signals
            $0.signalMode = signalMode
            $0.signal = constants
            $0.sensor = sensors
            $0.performanceDomain = performance
            $0.powerDomain = power
            $0.resetDomain = reset
            $0.vm = vms
            $0.control = control
        }
    }

    /// Each VM served: a standalone endpoint sees everything declared.
    public var servedVMs: [ScmiVMOption] {
        endpoints.all.map {
            ScmiVMOption(name: Self.standaloneVM, endpoint: $0, sensors: sensor.map(\.name), performance: performanceDomain.map(\.name),
                         power: powerDomain.map(\.name), reset: resetDomain)
        } + vm
    }

    public var arguments: [String] {
        var out = endpoints.arguments
        if let signals { out += ["--signals", signals] }
        if signalMode != .interpolate { out += ["--signal-mode", signalMode.rawValue] }
        out += signal.flatMap { ["--signal", $0.text] } + sensor.flatMap { ["--sensor", $0.text] }
        out += performanceDomain.flatMap { ["--performance-domain", $0.text] } + powerDomain.flatMap { ["--power-domain", $0.text] }
        out += resetDomain.flatMap { ["--reset-domain", $0] } + vm.flatMap { ["--vm", $0.text] }
        if let control { out += ["--control", control] }
        return out + sandbox.arguments
    }

    public func validate() throws {
        if endpoints.all.isEmpty, vm.isEmpty { throw ValidationError("give a --socket or --connect (one VM), or --vm for each VM") }
        if endpoints.all.count > 1 || (!endpoints.all.isEmpty && !vm.isEmpty) {
            throw ValidationError("a standalone server has one --socket or --connect; name several VMs with --vm instead")
        }
        if sensor.isEmpty, performanceDomain.isEmpty, powerDomain.isEmpty, resetDomain.isEmpty {
            throw ValidationError("declare at least one --sensor, --performance-domain, --power-domain or --reset-domain")
        }
        for r in resetDomain where !ScmiHostTopology.isValidName(r) {
            throw ValidationError("reset domain \(UserText.quoted(r)): 1 to 15 letters, digits, '_', '-' or '.'")
        }
        for s in sensor {
            guard case let .signal(name) = s.source else { continue }
            if signals == nil, !signal.contains(where: { $0.name == name }) {
                throw ValidationError("sensor '\(s.name)': signal '\(name)' needs --signals FILE or --signal \(name)=VALUE")
            }
        }
        var names: Set<String> = []
        for v in servedVMs {
            guard names.insert(v.name).inserted else { throw ValidationError("VM '\(v.name)' is given twice") }
            let declared = [sensor.map(\.name), performanceDomain.map(\.name), powerDomain.map(\.name), resetDomain]
            for (what, (list, known)) in zip(["sensor", "performance domain", "power domain", "reset domain"],
                                             zip([v.sensors, v.performance, v.power, v.reset], declared)) {
                for name in list where !known.contains(name) {
                    throw ValidationError("VM '\(v.name)': \(what) '\(name)' is not declared (\(known.isEmpty ? "none are" : known.joined(separator: ", ")))")
                }
            }
        }
    }

    static func constant(parsing text: String) throws -> ScmiConstantSignal {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, ScmiSignalTrace.isValidName(parts[0]), parts[1].utf8.count <= 32, let v = Double(parts[1]), v.isFinite else {
            throw ValidationError("signal \(UserText.quoted(text)): NAME=VALUE with a finite number")
        }
        return ScmiConstantSignal(name: parts[0], value: v)
    }
}

/// `--signal NAME=VALUE`: a simulated signal without a trace.
public struct ScmiConstantSignal: Sendable, Equatable {
    public var name: String
    public var value: Double

    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }

    public var text: String { "\(name)=\(value)" }
}

extension ScmiSignalTrace.Mode: ExpressibleByArgument {}
