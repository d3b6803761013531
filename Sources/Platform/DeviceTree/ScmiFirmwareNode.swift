/// What a VM's SCMI device offers it ({AVPS-v2.0-36}, {AVPS-v2.0-39}), as far as its device
/// tree must say: which SCMI protocols exist, and which performance domain the VM's CPUs use.
/// The SCMI kind's settings provide it (`ScmiTopologyProviding`).
public struct ScmiTopology: Sendable, Equatable {
    /// Sensors (SCMI 3.0 §4.7, protocol 0x15).
    public var sensorCount: Int
    /// Performance domains (§4.5, protocol 0x13).
    public var performanceDomains: Int
    /// The performance domain the VM's CPUs run in: CPU nodes get `clocks = <&scmi_perf N>`
    /// (Linux's scmi-cpufreq), nil for none.
    public var cpuPerformanceDomain: Int?
    /// Power domains (§4.3, protocol 0x11).
    public var powerDomains: Int
    /// Reset domains (§4.8, protocol 0x16).
    public var resetDomains: Int

    public init(sensorCount: Int = 0, performanceDomains: Int = 0, cpuPerformanceDomain: Int? = nil,
                powerDomains: Int = 0, resetDomains: Int = 0) {
        self.sensorCount = sensorCount
        self.performanceDomains = performanceDomains
        self.cpuPerformanceDomain = cpuPerformanceDomain
        self.powerDomains = powerDomains
        self.resetDomains = resetDomains
    }
}

/// A device kind's settings that put an SCMI device in the VM (the SCMI kind's).
public protocol ScmiTopologyProviding {
    var scmiTopology: ScmiTopology { get }
}

/// `/firmware/scmi` (Linux Documentation/devicetree/bindings/firmware/arm,scmi.yaml): the
/// node Linux's SCMI virtio transport binds the VM's single virtio-scmi device (virtio ID 32)
/// to, with one child per protocol the device implements.
public enum ScmiFirmwareNode {
    /// The label of the performance protocol node (`clocks = <&scmi_perf N>` in CPU nodes).
    public static let performanceLabel = "scmi_perf"

    public static func firmware(_ topology: ScmiTopology) -> DeviceTreeNode {
        func protocolNode(_ id: UInt32, label: String? = nil, _ cells: String) -> DeviceTreeNode {
            DeviceTreeNode("protocol@\(String(id, radix: 16))", label: label,
                           properties: [("reg", .cells([id])), (cells, .cells([1]))])
        }
        var protocols: [DeviceTreeNode] = []
        if topology.powerDomains > 0 { protocols.append(protocolNode(0x11, "#power-domain-cells")) }
        if topology.performanceDomains > 0 { protocols.append(protocolNode(0x13, label: performanceLabel, "#clock-cells")) }
        if topology.sensorCount > 0 { protocols.append(protocolNode(0x15, "#thermal-sensor-cells")) }
        if topology.resetDomains > 0 { protocols.append(protocolNode(0x16, "#reset-cells")) }
        let scmi = DeviceTreeNode("scmi", properties: [
            ("compatible", .string("arm,scmi-virtio")), ("#address-cells", .cells([1])), ("#size-cells", .cells([0])),
        ], children: protocols)
        return DeviceTreeNode("firmware", children: [scmi])
    }

    /// The CPU nodes' `clocks`, when the VM's CPUs run in a performance domain the device has.
    public static func cpuClocks(_ topology: ScmiTopology?) -> (String, DeviceTreeNode.Value)? {
        guard let topology, let domain = topology.cpuPerformanceDomain, domain >= 0,
              domain < topology.performanceDomains else { return nil }
        return ("clocks", .references([.reference(performanceLabel), .number(UInt32(domain))]))
    }
}
