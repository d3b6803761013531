import ArgumentParser
import Devices
import VhostUser

/// `--sensor name=NAME,unit=UNIT,signal=SIGNAL|file=PATH`: one sensor of an SCMI server, its
/// value from a simulated signal or a host hwmon/IIO file.
public struct ScmiSensorOption: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case signal(String)
        case file(String)
    }

    public var name: String
    public var unit: ScmiSensorUnit
    public var source: Source

    public init(name: String, unit: ScmiSensorUnit, source: Source) {
        self.name = name
        self.unit = unit
        self.source = source
    }

    public init(parsing text: String) throws {
        let what = "sensor \(UserText.quoted(text))"
        let fields = try KeyValueList(parsing: text, what: what, known: ["name", "unit", "signal", "file"])
        let name = try fields.required("name")
        guard ScmiHostTopology.isValidName(name) else { throw ValidationError("\(what): name= is 1 to 15 letters, digits, '_', '-' or '.'") }
        guard let unit = ScmiSensorUnit(rawValue: try fields.required("unit")) else {
            throw ValidationError("\(what): unit= is one of \(ScmiSensorUnit.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        switch (fields.value("signal"), fields.value("file")) {
        case let (signal?, nil): self.init(name: name, unit: unit, source: .signal(signal))
        case let (nil, file?): self.init(name: name, unit: unit, source: .file(file))
        default: throw ValidationError("\(what): give signal=NAME or file=PATH")
        }
    }

    public var text: String {
        var fields = KeyValueList(what: "sensor")
        fields.append("name", name)
        fields.append("unit", unit.rawValue)
        switch source {
        case let .signal(s): fields.append("signal", s)
        case let .file(f): fields.append("file", f)
        }
        return fields.text
    }
}

/// `--performance-domain name=NAME,levels=L1+L2+...[,limit=LEVEL]`: levels in kHz, ascending.
public struct ScmiPerformanceOption: Sendable, Equatable {
    public var name: String
    public var levels: [UInt32]
    public var limit: UInt32?

    public init(name: String, levels: [UInt32], limit: UInt32? = nil) {
        self.name = name
        self.levels = levels
        self.limit = limit
    }

    public init(parsing text: String) throws {
        let what = "performance domain \(UserText.quoted(text))"
        let fields = try KeyValueList(parsing: text, what: what, known: ["name", "levels", "limit"])
        let levels = try fields.required("levels").split(separator: "+", omittingEmptySubsequences: false).map { part in
            guard part.utf8.count <= 10, let l = UInt32(part) else { throw ValidationError("\(what): levels= is kHz values joined by '+'") }
            return l
        }
        var limit: UInt32?
        if let text = fields.value("limit") {
            guard text.utf8.count <= 10, let l = UInt32(text) else { throw ValidationError("\(what): limit= is a level in kHz") }
            limit = l
        }
        self.init(name: try fields.required("name"), levels: levels, limit: limit)
        do { _ = try domain } catch { throw ValidationError("\(what): \(error)") }
    }

    public var domain: ScmiPerformanceDomain {
        get throws { try ScmiPerformanceDomain(name: name, levels: levels, limit: limit) }
    }

    public var text: String {
        var fields = KeyValueList(what: "performance domain")
        fields.append("name", name)
        fields.append("levels", levels.map(String.init).joined(separator: "+"))
        if let limit { fields.append("limit", String(limit)) }
        return fields.text
    }
}

/// `--power-domain NAME[,off]`: a power domain, on at start unless `off`.
public struct ScmiPowerOption: Sendable, Equatable {
    public var name: String
    public var initiallyOn: Bool

    public init(name: String, initiallyOn: Bool = true) {
        self.name = name
        self.initiallyOn = initiallyOn
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), ScmiHostTopology.isValidName(parts[0]), parts.count == 1 || parts[1] == "off" else {
            throw ValidationError("power domain \(UserText.quoted(text)): NAME (1 to 15 letters, digits, '_', '-', '.') or NAME,off")
        }
        self.init(name: parts[0], initiallyOn: parts.count == 1)
    }

    public var text: String { initiallyOn ? name : name + ",off" }
}

/// `--vm name=NAME,listen=SOCKET|connect=SOCKET[,sensors=A+B][,performance=C][,power=D][,reset=E]`:
/// one VM of the server and what it sees, numbered from 0 in this order.
public struct ScmiVMOption: Sendable, Equatable {
    public var name: String
    public var endpoint: VhostUserServer.Endpoint
    public var sensors: [String]
    public var performance: [String]
    public var power: [String]
    public var reset: [String]

    public init(name: String, endpoint: VhostUserServer.Endpoint, sensors: [String] = [], performance: [String] = [],
                power: [String] = [], reset: [String] = []) {
        self.name = name
        self.endpoint = endpoint
        self.sensors = sensors
        self.performance = performance
        self.power = power
        self.reset = reset
    }

    static let lists = ["sensors", "performance", "power", "reset"]

    public init(parsing text: String) throws {
        let fields = try KeyValueList(parsing: text, what: "vm \(UserText.quoted(text))", known: ["name", "listen", "connect"] + Self.lists)
        func names(_ key: String) -> [String] {
            fields.value(key).map { $0.split(separator: "+", omittingEmptySubsequences: false).map(String.init) } ?? []
        }
        self.init(name: try fields.required("name"), endpoint: try fields.endpoint(), sensors: names("sensors"),
                  performance: names("performance"), power: names("power"), reset: names("reset"))
    }

    public var text: String {
        var fields = KeyValueList(what: "vm")
        fields.append("name", name)
        fields.append(endpoint)
        for (key, list) in zip(Self.lists, [sensors, performance, power, reset]) where !list.isEmpty {
            fields.append(key, list.joined(separator: "+"))
        }
        return fields.text
    }
}
