/// What one VM (one SCMI agent) sees of a server: its sensors and domains, renumbered from 0 in
/// the order the platform names them, each with its index in the host's topology. Nothing else
/// of the server is addressable, named or reported to it.
public struct ScmiAgentView: Sendable, Equatable {
    public var vm: String
    public var sensors: [Int]
    public var performance: [Int]
    public var power: [Int]
    public var reset: [Int]

    public init(vm: String, sensors: [Int] = [], performance: [Int] = [], power: [Int] = [], reset: [Int] = []) {
        self.vm = vm
        self.sensors = sensors
        self.performance = performance
        self.power = power
        self.reset = reset
    }

    /// The view naming the host's items; every name must be declared, once.
    public init(vm: String, topology: ScmiHostTopology, sensors: [String], performance: [String], power: [String],
                reset: [String]) throws(ScmiTopologyError) {
        func indices(_ names: [String], in declared: [String], _ what: String) throws(ScmiTopologyError) -> [Int] {
            var out: [Int] = []
            for name in names {
                guard let i = declared.firstIndex(of: name) else { throw .unknown(what, name) }
                guard !out.contains(i) else { throw .duplicate(what, name) }
                out.append(i)
            }
            return out
        }
        self.init(vm: vm, sensors: try indices(sensors, in: topology.sensors.map(\.name), "sensor"),
                  performance: try indices(performance, in: topology.performance.map(\.name), "performance domain"),
                  power: try indices(power, in: topology.power.map(\.name), "power domain"),
                  reset: try indices(reset, in: topology.reset, "reset domain"))
    }

    /// The protocols this VM has something in, besides base (DISCOVER_LIST_PROTOCOLS).
    public var protocols: [ScmiProtocolID] {
        var out: [ScmiProtocolID] = []
        if !power.isEmpty { out.append(.power) }
        if !performance.isEmpty { out.append(.performance) }
        if !sensors.isEmpty { out.append(.sensor) }
        if !reset.isEmpty { out.append(.reset) }
        return out
    }
}
