/// What the host declares for one SCMI server: sensors and the performance, power and reset
/// domains its VMs may see. Pure values, checked once (names, counts, levels) before any VM
/// is served; `ScmiHost` holds them with their shared state.
public struct ScmiHostSensor: Sendable {
    public var name: String
    public var unit: ScmiSensorUnit
    /// One source per value: one for a scalar sensor, x, y and z for a three-axis one.
    public var sources: [any ScmiSensorSource]

    public init(name: String, unit: ScmiSensorUnit, source: any ScmiSensorSource) {
        self.name = name
        self.unit = unit
        sources = [source]
    }

    /// A three-axis sensor (`unit.isThreeAxis`): its x, y and z sources.
    public init(name: String, unit: ScmiSensorUnit, axes: [any ScmiSensorSource]) {
        self.name = name
        self.unit = unit
        sources = axes
    }

    /// The axes the guest sees (DEN0056 §4.7.2.5 attributes_high): 0 for a scalar sensor.
    public var axisCount: Int { sources.count > 1 ? sources.count : 0 }
    public var origin: String { sources.map(\.origin).joined(separator: ", ") }
}

/// A physical performance domain: its levels in kHz, ascending (DEN0056 §4.5: performance
/// levels; AVP reports sustained level = highest level at its frequency, so Linux's cpufreq
/// sees level × 1000 Hz).
public struct ScmiPerformanceDomain: Sendable, Equatable {
    public static let maxLevels = 64

    public var name: String
    public var levels: [UInt32]
    /// The host's cap at start (`avp scmi limit` changes it), nil for none.
    public var limit: UInt32?

    public init(name: String, levels: [UInt32], limit: UInt32? = nil) throws(ScmiTopologyError) {
        guard ScmiHostTopology.isValidName(name) else { throw .badName(name) }
        guard !levels.isEmpty, levels.count <= Self.maxLevels else { throw .badLevels(name, "1 to \(Self.maxLevels) levels") }
        guard zip(levels, levels.dropFirst()).allSatisfy({ $0 < $1 }), levels[0] > 0 else {
            throw .badLevels(name, "levels are positive and strictly ascending")
        }
        self.name = name
        self.levels = levels
        self.limit = limit
    }

    /// The highest level at or below `cap` (the lowest level if every one is above it).
    public func level(atMost cap: UInt32) -> UInt32 { levels.last(where: { $0 <= cap }) ?? levels[0] }
}

/// A physical power domain: on while any VM that sees it wants it on.
public struct ScmiPowerDomain: Sendable, Equatable {
    public var name: String
    /// Whether each VM wants it on before it says otherwise.
    public var initiallyOn: Bool

    public init(name: String, initiallyOn: Bool = true) throws(ScmiTopologyError) {
        guard ScmiHostTopology.isValidName(name) else { throw .badName(name) }
        self.name = name
        self.initiallyOn = initiallyOn
    }
}

/// Everything one server declares, in the host's numbering.
public struct ScmiHostTopology: Sendable {
    /// Items of one kind a server declares (and a VM may see): bounds every per-VM table.
    public static let maxItems = 256

    public var sensors: [ScmiHostSensor]
    public var performance: [ScmiPerformanceDomain]
    public var power: [ScmiPowerDomain]
    public var reset: [String]

    public init(sensors: [ScmiHostSensor] = [], performance: [ScmiPerformanceDomain] = [], power: [ScmiPowerDomain] = [],
                reset: [String] = []) throws(ScmiTopologyError) {
        for (what, names) in [("sensor", sensors.map(\.name)), ("performance domain", performance.map(\.name)),
                              ("power domain", power.map(\.name)), ("reset domain", reset)] {
            guard names.count <= Self.maxItems else { throw .tooMany(what, names.count) }
            var seen: Set<String> = []
            for name in names {
                guard Self.isValidName(name) else { throw .badName(name) }
                guard seen.insert(name).inserted else { throw .duplicate(what, name) }
            }
        }
        self.sensors = sensors
        self.performance = performance
        self.power = power
        self.reset = reset
    }

    /// 1 to 15 characters (an SCMI short name with its NUL): letters, digits, '_', '-', '.'.
    public static func isValidName(_ name: String) -> Bool {
        (1...(ScmiCodes.shortNameSize - 1)).contains(name.utf8.count) && ScmiSignalTrace.isValidName(name)
    }
}

public enum ScmiTopologyError: Error, Sendable, Equatable, CustomStringConvertible {
    case badName(String)
    case badLevels(String, String)
    case tooMany(String, Int)
    case duplicate(String, String)
    case unknown(String, String)

    public var description: String {
        switch self {
        case let .badName(n): "name \(UserTextLite.quoted(n)) is not 1 to 15 letters, digits, '_', '-' or '.'"
        case let .badLevels(n, why): "performance domain '\(n)': \(why)"
        case let .tooMany(what, n): "\(n) \(what)s is more than \(ScmiHostTopology.maxItems)"
        case let .duplicate(what, n): "\(what) '\(n)' is declared twice"
        case let .unknown(what, n): "no \(what) '\(n)' is declared"
        }
    }
}
