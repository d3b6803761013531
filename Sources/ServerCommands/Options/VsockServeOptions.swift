import ArgumentParser
import VhostUser

/// One `--vm` of `avp serve vsock`: `name=NAME,cid=N,listen=SOCKET|connect=SOCKET,uds=PATH`.
public struct VsockVMOption: Sendable {
    public var name: String
    public var cid: UInt64
    public var endpoint: VhostUserServer.Endpoint
    /// Host processes connect here; a guest's connection to CID 2 port P reaches `PATH_P`.
    public var hostSocket: String

    static let keys = ["name", "cid", "listen", "connect", "uds"]

    public init(name: String, cid: UInt64, endpoint: VhostUserServer.Endpoint, hostSocket: String) {
        self.name = name
        self.cid = cid
        self.endpoint = endpoint
        self.hostSocket = hostSocket
    }

    public init(parsing text: String) throws {
        let fields = try KeyValueList(parsing: text, what: "vm \(UserText.quoted(text))", known: Self.keys)
        name = try fields.required("name")
        let cidText = try fields.required("cid")
        let cids = PlatformLimits.vsockCIDs
        guard case let .value(n) = WholeNumber.read(cidText), cids.contains(n) else {
            throw ValidationError("vm \(UserText.quoted(name)): cid=\(UserText.shortened(cidText)) is not from \(cids.lowerBound) to \(cids.upperBound)")
        }
        cid = UInt64(n)
        endpoint = try fields.endpoint()
        hostSocket = try fields.required("uds")
    }

    public var text: String {
        var fields = KeyValueList(what: "vm")
        fields.append("name", name)
        fields.append("cid", String(cid))
        fields.append(endpoint)
        fields.append("uds", hostSocket)
        return fields.text
    }
}

/// `avp serve vsock`: virtio-vsock for several VMs and the pairs that may connect.
public struct VsockServeOptions: ServeOptions {
    public static let command = "vsock"

    @Option(help: "A VM: name=,cid=,listen=|connect=,uds= (repeat).", transform: VsockVMOption.init(parsing:))
    public var vm: [VsockVMOption]
    @Option(help: "A pair of VM names allowed to connect to each other, NAME:NAME (repeat).")
    public var allow: [String] = []

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(vms: [VsockVMOption], allow: [[String]]) {
        self = .with {
            $0.sandbox = .namespace
            $0.vm = vms
            $0.allow = allow.map { $0.joined(separator: ":") }
        }
    }

    public var arguments: [String] { vm.flatMap { ["--vm", $0.text] } + allow.flatMap { ["--allow", $0] } + sandbox.arguments }

    /// The allowed pairs as CIDs.
    public func allowedCIDPairs() throws -> [(UInt64, UInt64)] {
        let cidOf = Dictionary(vm.map { ($0.name, $0.cid) }, uniquingKeysWith: { a, _ in a })
        return try allow.map { pair in
            let names = pair.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard names.count == 2, let a = cidOf[names[0]], let b = cidOf[names[1]] else {
                throw ValidationError("--allow \(pair): use NAME:NAME of two --vm names")
            }
            return (a, b)
        }
    }

    public func validate() throws {
        if vm.isEmpty { throw ValidationError("give at least one --vm") }
        _ = try allowedCIDPairs()
    }
}
