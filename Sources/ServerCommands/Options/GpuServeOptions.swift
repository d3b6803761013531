import ArgumentParser
import Devices
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VhostUser

/// One `--output` of `avp serve gpu`: `mode=WIDTHxHEIGHT[@HZ],size=WIDTHxHEIGHT` (size in
/// millimetres; the guest reads both from the EDID and computes its DPI, {AVPS-v2.0-20}).
public struct GpuOutputOption: Sendable, Equatable {
    public var mode: DisplayMode

    public init(_ mode: DisplayMode) { self.mode = mode }

    public init(parsing text: String) throws {
        let fields = try KeyValueList(parsing: text, what: "output \(UserText.quoted(text))", known: ["mode", "size"])
        let what = "output \(UserText.quoted(text))"
        guard let (width, height, refresh) = Self.pixels(try fields.required("mode")) else {
            throw ValidationError("\(what): mode= is WIDTHxHEIGHT or WIDTHxHEIGHT@HZ, e.g. 1920x1080@60")
        }
        guard case let (widthMM, heightMM, nil)? = Self.pixels(try fields.required("size")) else {
            throw ValidationError("\(what): size= is WIDTHxHEIGHT in millimetres, e.g. 293x165")
        }
        mode = DisplayMode(width: width, height: height, refresh: refresh ?? 60, widthMM: widthMM, heightMM: heightMM)
        if let problem = mode.problem { throw ValidationError("\(what): \(problem)") }
    }

    /// "1920x1080" or "1920x1080@60" as whole numbers.
    public static func pixels(_ text: String) -> (Int, Int, Int?)? {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let sides = parts[0].split(separator: "x", omittingEmptySubsequences: false)
        guard sides.count == 2, case let .value(w) = WholeNumber.read(String(sides[0])), case let .value(h) = WholeNumber.read(String(sides[1])),
              !sides[0].hasPrefix("+"), !sides[1].hasPrefix("+") else { return nil }
        guard parts.count == 2 else { return (w, h, nil) }
        guard case let .value(hz) = WholeNumber.read(String(parts[1])), !parts[1].hasPrefix("+") else { return nil }
        return (w, h, hz)
    }

    public var text: String {
        "mode=\(mode.width)x\(mode.height)@\(mode.refresh),size=\(mode.widthMM)x\(mode.heightMM)"
    }
}

/// `avp serve gpu`: virtio-gpu 2D for one or more VMs, and the displays their scanouts are
/// composed onto. Standalone: `--socket`/`--connect` endpoints, every VM with the `--output`s.
/// For a platform: a `--vm` each with its `--scanout`s, and `--display`s with their `--layer`s.
public struct GpuServeOptions: EndpointServeOptions {
    public static let command = "gpu"
    public static let defaultOutput = GpuOutputOption(.standard)

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: "A display output: mode=WIDTHxHEIGHT[@HZ],size=WIDTHxHEIGHT (millimetres); repeat for several scanouts (at most 16). Default: mode=1920x1080@60,size=293x165.",
            transform: GpuOutputOption.init(parsing:))
    public var output: [GpuOutputOption] = []
    @Option(help: "A VM: name=NAME,listen=SOCKET|connect=SOCKET (repeat).", transform: VMEndpointOption.init(parsing:))
    public var vm: [VMEndpointOption] = []
    @Option(help: "The next scanout of a --vm: vm=NAME,mode=WxH[@HZ],size=WxH (millimetres); a VM without one gets the default output.",
            transform: { try GpuNamedOutput(parsing: $0, key: "vm") })
    public var scanout: [GpuNamedOutput] = []
    @Option(help: "A display the layers are composed onto: name=NAME,mode=WxH[@HZ],size=WxH (repeat).", transform: { try GpuNamedOutput(parsing: $0, key: "name") })
    public var display: [GpuNamedOutput] = []
    @Option(help: "A layer of a --display, bottom to top: display=D,vm=V,scanout=N,at=X:Y:W:H[,opacity=0..255][,safety=X:Y:W:H+...].",
            transform: GpuLayerOption.init(parsing:))
    public var layer: [GpuLayerOption] = []
    @Option(help: "Write the compositor's statistics (frames, safety-region checks and mismatches) here as JSON, once a second and on exit.")
    public var stats: String?
    @Option(help: ArgumentHelp("Keep a PNG of every scanout up to date in this directory: NAME-N.png, NAME being the socket's file name without extension.",
                               valueName: "directory"))
    public var snapshots: String?
    @Option(help: ArgumentHelp("Serve a live view of the composed displays to browsers on 127.0.0.1:PORT (0: any free port); never on other addresses.",
                               valueName: "port"))
    public var webPort: UInt16?
    @Option(help: ArgumentHelp("Write the web view's address (http://127.0.0.1:PORT/) to this file once it listens.", valueName: "file"))
    public var webURLFile: String?
    @Option(help: ArgumentHelp("Listen on this Unix socket for the host's policy changes (avp display).", valueName: "socket"))
    public var control: String?
    @Option(help: "A VM's touchscreen for the web view's touches: vm=NAME,events=SOCKET (an avp serve input events socket; repeat).",
            transform: GpuTouchOption.init(parsing:))
    public var touch: [GpuTouchOption] = []

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints, outputs: [GpuOutputOption], snapshots: String?) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.output = outputs
            $0.vm = []
            $0.scanout = []
            $0.display = []
            $0.layer = []
            $0.stats = nil
            $0.snapshots = snapshots
            $0.webPort = nil
            $0.webURLFile = nil
            $0.control = nil
            $0.touch = []
        }
    }

    /// A platform's GPU server: its VMs and their scanouts, its displays and their layers, and
    /// where the host looks at them and changes their policy.
    public init(vms: [VMEndpointOption], scanouts: [GpuNamedOutput], displays: [GpuNamedOutput], layers: [GpuLayerOption],
                stats: String?, snapshots: String?, web: (port: UInt16, urlFile: String)? = nil, control: String? = nil) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = ServeEndpoints(socket: [], connect: [])
            $0.output = []
            $0.vm = vms
            $0.scanout = scanouts
            $0.display = displays
            $0.layer = layers
            $0.stats = stats
            $0.snapshots = snapshots
            $0.webPort = web?.port
            $0.webURLFile = web?.urlFile
            $0.control = control
            $0.touch = []
        }
    }

    /// Each VM served: its name, endpoint and scanouts (standalone endpoints are named by their socket's file name).
    public var servedVMs: [(name: String, endpoint: VhostUserServer.Endpoint, modes: [DisplayMode])] {
        let standalone = endpoints.all.map { e in
            (URL(fileURLWithPath: e.path).deletingPathExtension().lastPathComponent, e, modes)
        }
        return standalone + vm.map { v in
            let own = scanout.filter { $0.owner == v.name }.map(\.output.mode)
            return (v.name, v.endpoint, own.isEmpty ? [Self.defaultOutput.mode] : own)
        }
    }

    /// The composition policy: each display with its layers, bottom to top, their masks read
    /// from their files; throws naming the layer whose mask cannot be read.
    public var displayPolicies: [DisplayPolicy] {
        get throws {
            try display.map { d in
                DisplayPolicy(name: d.owner, width: d.output.mode.width, height: d.output.mode.height,
                              layers: try layer.filter { $0.display == d.owner }.map { try $0.loaded() })
            }
        }
    }

    /// The outputs every VM sees: as given, or the default one.
    public var modes: [DisplayMode] { (output.isEmpty ? [Self.defaultOutput] : output).map(\.mode) }

    public var arguments: [String] {
        endpoints.arguments + output.flatMap { ["--output", $0.text] } + vm.flatMap { ["--vm", $0.text] }
            + scanout.flatMap { ["--scanout", $0.text] } + display.flatMap { ["--display", $0.text] }
            + layer.flatMap { ["--layer", $0.text] } + (stats.map { ["--stats", $0] } ?? []) + (snapshots.map { ["--snapshots", $0] } ?? [])
            + (webPort.map { ["--web-port", String($0)] } ?? []) + (webURLFile.map { ["--web-url-file", $0] } ?? [])
            + (control.map { ["--control", $0] } ?? []) + touch.flatMap { ["--touch", $0.text] } + sandbox.arguments
    }

    /// Endpoints or VMs; at most 16 scanouts each; scanouts and layers name VMs and displays that are given.
    public func validate() throws {
        if endpoints.all.isEmpty, vm.isEmpty { throw ValidationError("give at least one --socket, --connect or --vm") }
        if output.count > 16 { throw ValidationError("at most 16 --output (virtio-gpu has 16 scanouts)") }
        let names = Set(vm.map(\.name))
        for s in scanout where !names.contains(s.owner) { throw ValidationError("--scanout vm=\(s.owner): no --vm of that name") }
        for v in vm where scanout.filter({ $0.owner == v.name }).count > 16 { throw ValidationError("--vm \(v.name): at most 16 scanouts") }
        let displays = Set(display.map(\.owner))
        for l in layer where !displays.contains(l.display) { throw ValidationError("--layer display=\(l.display): no --display of that name") }
        for policy in try displayPolicies { try policy.validate() }
        if display.isEmpty, webPort != nil || control != nil { throw ValidationError("--web-port and --control need a --display") }
        if webURLFile != nil, webPort == nil { throw ValidationError("--web-url-file needs --web-port") }
        if !touch.isEmpty, webPort == nil { throw ValidationError("--touch needs --web-port: touches come from the web view") }
        let served = Set(servedVMs.map(\.name))
        for t in touch where !served.contains(t.vm) { throw ValidationError("--touch vm=\(t.vm): no VM of that name is served") }
    }
}
