import ArgumentParser
import Devices
import VhostUser

/// One `--port` of `avp serve switch`: a VM interface's socket and policy,
/// `name=NAME,listen=SOCKET|connect=SOCKET,mac=MAC[,mtu=N][,mac-change=allow|deny][,allow=MAC+MAC]`.
public struct SwitchPortOption: Sendable {
    public var policy: NetPortPolicy
    public var endpoint: VhostUserServer.Endpoint

    static let keys = ["name", "listen", "connect", "mac", "mtu", "mac-change", "allow"]

    public init(policy: NetPortPolicy, endpoint: VhostUserServer.Endpoint) {
        self.policy = policy
        self.endpoint = endpoint
    }

    public init(parsing text: String) throws {
        let fields = try KeyValueList(parsing: text, what: "port \(UserText.quoted(text))", known: Self.keys)
        let name = try fields.required("name")
        guard let mac = MACAddress(try fields.required("mac")), !mac.isMulticast, !mac.isZero else {
            throw ValidationError("port \(name): mac= must be a unicast MAC address")
        }
        policy = NetPortPolicy(name: name, mac: mac)
        endpoint = try fields.endpoint()
        if let mtu = fields.value("mtu") {
            guard case let .value(n) = WholeNumber.read(mtu), PlatformLimits.mtu.contains(n) else {
                throw ValidationError("port \(name): mtu=\(UserText.shortened(mtu)) is not from \(PlatformLimits.mtu.lowerBound) to \(PlatformLimits.mtu.upperBound)")
            }
            policy.mtu = n
        }
        if let change = fields.value("mac-change") {
            guard let c = NetPortPolicy.MACChange(rawValue: change) else { throw ValidationError("port \(name): mac-change=allow or deny") }
            policy.macChange = c
        }
        if let allowed = fields.value("allow") {
            policy.extraMACs = try allowed.split(separator: "+", omittingEmptySubsequences: false).map {
                guard let m = MACAddress(String($0)), !m.isMulticast else {
                    throw ValidationError("port \(name): allow=\(UserText.shortened(String($0))) is not a unicast MAC address")
                }
                return m
            }
        }
    }

    public var text: String {
        var fields = KeyValueList(what: "port")
        fields.append("name", policy.name)
        fields.append(endpoint)
        fields.append("mac", policy.mac.description)
        fields.append("mtu", String(policy.mtu))
        fields.append("mac-change", policy.macChange.rawValue)
        if !policy.extraMACs.isEmpty { fields.append("allow", policy.extraMACs.map(\.description).joined(separator: "+")) }
        return fields.text
    }
}

/// `avp serve switch`: one virtual Ethernet switch, a port per VM interface.
public struct SwitchServeOptions: ServeOptions {
    public static let command = "switch"

    @Option(help: "A VM interface: name=,listen=|connect=,mac= and optionally mtu=,mac-change=,allow= (repeat for each).",
            transform: SwitchPortOption.init(parsing:))
    public var port: [SwitchPortOption]
    @Option(help: "Write every port's counters here as JSON, once a second and on exit.")
    public var stats: String?

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(ports: [SwitchPortOption], stats: String?) {
        self = .with {
            $0.sandbox = .namespace
            $0.port = ports
            $0.stats = stats
        }
    }

    public var arguments: [String] { (stats.map { ["--stats", $0] } ?? []) + port.flatMap { ["--port", $0.text] } + sandbox.arguments }
}
