import ArgumentParser
import Devices
import VhostUser

/// `avp serve gpio`: one GPIO block (simulated lines, or a host chip through the GPIO v2 uAPI)
/// served to its VMs over virtio-gpio (VIRTIO 1.2 §5.17). Standalone: one `--socket`/`--connect`
/// VM that owns every `--line` and reads every `--read-only-line`. For a platform: the block's
/// lines as `--line`s and a `--vm` per VM naming the lines it owns and those it only reads.
public struct GpioServeOptions: EndpointServeOptions {
    public static let command = "gpio"
    /// The name a standalone endpoint's VM has in the logs and the control socket.
    public static let standaloneVM = "guest"

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("A line of the block: NAME, or NAME=OFFSET on a --chip (without an offset, the chip's line of "
        + "that name). Standalone, the VM owns it (repeat).", valueName: "name[=offset]"), transform: GpioLineOption.init(parsing:))
    public var line: [GpioLineOption] = []
    @Option(help: ArgumentHelp("Standalone: a line the VM may only read (input; output and SET_VALUE refused) (repeat).",
                               valueName: "name[=offset]"), transform: GpioLineOption.init(parsing:))
    public var readOnlyLine: [GpioLineOption] = []
    @Option(help: ArgumentHelp("A VM: name=NAME,listen=SOCKET|connect=SOCKET,lines=A+B[,read-only=C+D] (repeat). It sees "
        + "its lines numbered from 0, owned ones first, and nothing else of the block."), transform: GpioVMOption.init(parsing:))
    public var vm: [GpioVMOption] = []
    @Option(help: ArgumentHelp("A host GPIO chip (/dev/gpiochipN) whose lines the block serves; without it, lines are "
        + "simulated and set with the control socket (avp gpio set).", valueName: "path"))
    public var chip: String?
    @Option(help: ArgumentHelp("Listen on this Unix socket for the host's line changes and watches (avp gpio).", valueName: "socket"))
    public var control: String?

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    /// A standalone server: one endpoint owning `lines` and reading `readOnly`.
    public init(endpoints: ServeEndpoints, lines: [GpioLineOption], readOnly: [GpioLineOption] = [], chip: String? = nil,
                control: String? = nil) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.line = lines
            $0.readOnlyLine = readOnly
            $0.vm = []
            $0.chip = chip
            $0.control = control
        }
    }

    /// A platform's server for one block: its lines and VMs.
    public init(lines: [GpioLineOption], vms: [GpioVMOption], chip: String?, control: String?) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = ServeEndpoints(socket: [], connect: [])
            $0.line = lines
            $0.readOnlyLine = []
            $0.vm = vms
            $0.chip = chip
            $0.control = control
        }
    }

    /// Every line of the block, in order.
    public var blockLines: [GpioLineOption] { line + readOnlyLine }

    /// Each VM served: its name, owned and read-only lines, endpoint.
    public var servedVMs: [GpioVMOption] {
        endpoints.all.map { GpioVMOption(name: Self.standaloneVM, endpoint: $0, lines: line.map(\.name), readOnly: readOnlyLine.map(\.name)) }
            + vm
    }

    public var arguments: [String] {
        endpoints.arguments + line.flatMap { ["--line", $0.text] } + readOnlyLine.flatMap { ["--read-only-line", $0.text] }
            + vm.flatMap { ["--vm", $0.text] } + (chip.map { ["--chip", $0] } ?? []) + (control.map { ["--control", $0] } ?? []) + sandbox.arguments
    }

    public func validate() throws {
        if endpoints.all.isEmpty, vm.isEmpty { throw ValidationError("give a --socket or --connect (one VM), or --vm for each VM") }
        if endpoints.all.count > 1 || (!endpoints.all.isEmpty && !vm.isEmpty) {
            throw ValidationError("a standalone server has one --socket or --connect; name several VMs with --vm instead")
        }
        if !vm.isEmpty, !readOnlyLine.isEmpty { throw ValidationError("--read-only-line is for a standalone VM; give --vm ...,read-only=NAME") }
        let names = blockLines.map(\.name)
        guard !names.isEmpty else { throw ValidationError("give the block's lines with --line") }
        if let twice = Self.firstDuplicate(names) { throw ValidationError("line '\(twice)' is given twice") }
        if chip == nil, let given = blockLines.first(where: { $0.offset != nil }) {
            throw ValidationError("line '\(given.name)': an offset needs --chip")
        }
        if let twice = Self.firstDuplicate(vm.map(\.name)) { throw ValidationError("VM '\(twice)' is given twice") }
        var owners: [String: String] = [:]
        for v in servedVMs {
            if v.lines.isEmpty, v.readOnly.isEmpty { throw ValidationError("VM '\(v.name)' has no lines") }
            if let twice = Self.firstDuplicate(v.lines + v.readOnly) { throw ValidationError("VM '\(v.name)': line '\(twice)' is given twice") }
            for name in v.lines + v.readOnly where !names.contains(name) {
                throw ValidationError("VM '\(v.name)': line '\(name)' is not a --line of the block")
            }
            for name in v.lines {
                if let other = owners[name] { throw ValidationError("line '\(name)' is owned by VM '\(other)' and VM '\(v.name)'") }
                owners[name] = v.name
            }
        }
    }

    public static func firstDuplicate(_ names: [String]) -> String? {
        var seen: Set<String> = []
        return names.first { !seen.insert($0).inserted }
    }
}

/// `--line NAME[=OFFSET]`: a line of the block, with its chip offset if given.
public struct GpioLineOption: Sendable, Equatable {
    public var name: String
    public var offset: UInt32?

    public init(name: String, offset: UInt32? = nil) {
        self.name = name
        self.offset = offset
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard GpioLineMap.isValidName(parts[0]), !parts[0].contains("+"), !parts[0].contains(",") else {
            throw ValidationError("line \(UserText.quoted(text)): a name is 1 to \(GpioLineMap.maxNameLength) printable ASCII characters without '=', '+' or ','")
        }
        var offset: UInt32?
        if parts.count == 2 {
            guard parts[1].utf8.count <= 5, let o = UInt32(parts[1]) else { throw ValidationError("line \(UserText.quoted(text)): the offset is a whole number") }
            offset = o
        }
        self.init(name: parts[0], offset: offset)
    }

    public var text: String { offset.map { "\(name)=\($0)" } ?? name }
    public var layoutEntry: GpioChipLayout.Entry { GpioChipLayout.Entry(name: name, offset: offset) }
}

/// `--vm name=NAME,listen=SOCKET|connect=SOCKET,lines=A+B[,read-only=C+D]`: one VM of the block.
public struct GpioVMOption: Sendable, Equatable {
    public var name: String
    public var endpoint: VhostUserServer.Endpoint
    public var lines: [String]
    public var readOnly: [String]

    public init(name: String, endpoint: VhostUserServer.Endpoint, lines: [String], readOnly: [String]) {
        self.name = name
        self.endpoint = endpoint
        self.lines = lines
        self.readOnly = readOnly
    }

    public init(parsing text: String) throws {
        let what = "vm \(UserText.quoted(text))"
        let fields = try KeyValueList(parsing: text, what: what, known: ["name", "listen", "connect", "lines", "read-only"])
        func names(_ key: String) -> [String] {
            fields.value(key).map { $0.split(separator: "+", omittingEmptySubsequences: false).map(String.init) } ?? []
        }
        self.init(name: try fields.required("name"), endpoint: try fields.endpoint(), lines: names("lines"), readOnly: names("read-only"))
    }

    public var text: String {
        var fields = KeyValueList(what: "vm")
        fields.append("name", name)
        fields.append(endpoint)
        if !lines.isEmpty { fields.append("lines", lines.joined(separator: "+")) }
        if !readOnly.isEmpty { fields.append("read-only", readOnly.joined(separator: "+")) }
        return fields.text
    }
}
