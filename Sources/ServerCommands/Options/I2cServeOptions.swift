import ArgumentParser
import Devices
import VhostUser

/// `avp serve i2c`: AVP's I2C adapters (virtio-i2c, VIRTIO 1.2 §5.16), each VM with its own
/// targets — its allow-list — emulated (a 24C02 EEPROM in a file, an LM75-style sensor the host
/// sets) or passed through from a host adapter. Standalone: one `--socket`/`--connect` VM and
/// `--target KIND@ADDRESS[:VALUE]`s. For a platform: a `--vm` per VM and `--target VM=KIND@…`.
public struct I2cServeOptions: EndpointServeOptions {
    public static let command = "i2c"
    /// The name a standalone endpoint's VM has in the control socket and the logs.
    public static let standaloneVM = "guest"

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("A VM: name=NAME,listen=SOCKET|connect=SOCKET (repeat); its targets are the --target VM=… options.",
                               valueName: "vm"), transform: VMEndpointOption.init(parsing:))
    public var vm: [VMEndpointOption] = []
    @Option(help: ArgumentHelp("A target on the VM's bus, the only addresses it may use (repeat): eeprom@ADDRESS[:FILE] (a 24C02 kept in "
        + "FILE), temperature@ADDRESS[:CELSIUS] (an LM75-style sensor, default 25), host@ADDRESS:/dev/i2c-N (pass-through). "
        + "ADDRESS is 0x08 to 0x77. With --vm, prefix the VM: ivi=eeprom@0x50:ivi.eeprom.", valueName: "target"),
            transform: I2cTargetOption.init(parsing:))
    public var target: [I2cTargetOption] = []
    @Option(help: ArgumentHelp("Listen on this Unix socket for the host's requests (avp i2c): show the targets, set a sensor's temperature.",
                               valueName: "socket"))
    public var control: String?

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints = ServeEndpoints(socket: [], connect: []), vms: [VMEndpointOption], targets: [I2cTargetOption],
                control: String?) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.vm = vms
            $0.target = targets
            $0.control = control
        }
    }

    /// Each VM served: its name, endpoint and targets (a standalone endpoint's VM is `guest`).
    public var servedVMs: [(name: String, endpoint: VhostUserServer.Endpoint, targets: [I2cTargetSpec])] {
        endpoints.all.map { (Self.standaloneVM, $0, target.map(\.spec)) }
            + vm.map { v in (v.name, v.endpoint, target.filter { $0.vm == v.name }.map(\.spec)) }
    }

    public var arguments: [String] {
        endpoints.arguments + vm.flatMap { ["--vm", $0.text] } + target.flatMap { ["--target", $0.text] }
            + (control.map { ["--control", $0] } ?? []) + sandbox.arguments
    }

    public func validate() throws {
        if endpoints.all.isEmpty, vm.isEmpty { throw ValidationError("give a --socket or --connect (one VM), or --vm for each VM") }
        if endpoints.all.count > 1 || (!endpoints.all.isEmpty && !vm.isEmpty) {
            throw ValidationError("a standalone server has one --socket or --connect; name several VMs with --vm instead")
        }
        let names = vm.map(\.name)
        if let twice = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw ValidationError("--vm name=\(twice) is given twice")
        }
        for t in target {
            switch (t.vm, vm.isEmpty) {
            case (nil, false): throw ValidationError("--target \(t.text): with --vm, name the target's VM (VM=\(t.spec))")
            case let (v?, true): throw ValidationError("--target \(t.text): a standalone server's targets name no VM (\(t.spec)), or give --vm name=\(v),…")
            case let (v?, false) where !names.contains(v): throw ValidationError("--target \(t.text): no --vm name=\(v)")
            default: break
            }
        }
        for served in servedVMs {
            let addresses = served.targets.map(\.address)
            if let twice = addresses.first(where: { a in addresses.filter { $0 == a }.count > 1 }) {
                throw ValidationError("VM '\(served.name)' has two targets at \(twice): one address, one target")
            }
        }
    }
}

/// `--target [VM=]KIND@ADDRESS[:VALUE]`: one target (`I2cTargetSpec`), of the VM named before '='.
public struct I2cTargetOption: Sendable, Equatable {
    public var vm: String?
    public var spec: I2cTargetSpec

    public init(vm: String?, spec: I2cTargetSpec) {
        self.vm = vm
        self.spec = spec
    }

    public init(parsing text: String) throws {
        let head = text.prefix { $0 != "@" }
        var vm: String?
        var rest = Substring(text)
        if let equals = head.firstIndex(of: "=") {
            vm = String(text[..<equals])
            rest = text[text.index(after: equals)...]
            guard VMEndpointOption.isValidName(vm!) else { throw ValidationError("target \(UserText.quoted(text)): '\(vm!.prefix(40))' is not a VM name") }
        }
        do {
            self.init(vm: vm, spec: try I2cTargetSpec(parsing: String(rest)))
        } catch {
            throw ValidationError(error.description)
        }
    }

    public var text: String { (vm.map { $0 + "=" } ?? "") + spec.description }
}
