import ArgumentParser
import Devices

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
    static func pixels(_ text: String) -> (Int, Int, Int?)? {
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

/// `avp serve gpu`: virtio-gpu 2D for one or more VMs (one endpoint each), every VM with the same outputs.
public struct GpuServeOptions: EndpointServeOptions {
    public static let command = "gpu"
    public static let defaultOutput = GpuOutputOption(.standard)

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: "A display output: mode=WIDTHxHEIGHT[@HZ],size=WIDTHxHEIGHT (millimetres); repeat for several scanouts (at most 16). Default: mode=1920x1080@60,size=293x165.",
            transform: GpuOutputOption.init(parsing:))
    public var output: [GpuOutputOption] = []
    @Option(help: ArgumentHelp("Keep a PNG of every scanout up to date in this directory: NAME-N.png, NAME being the socket's file name without extension.",
                               valueName: "directory"))
    public var snapshots: String?

    public init() {}

    public init(endpoints: ServeEndpoints, outputs: [GpuOutputOption], snapshots: String?) {
        self = .with {
            $0.endpoints = endpoints
            $0.output = outputs
            $0.snapshots = snapshots
        }
    }

    /// The outputs every VM sees: as given, or the default one.
    public var modes: [DisplayMode] { (output.isEmpty ? [Self.defaultOutput] : output).map(\.mode) }

    public var arguments: [String] {
        endpoints.arguments + output.flatMap { ["--output", $0.text] } + (snapshots.map { ["--snapshots", $0] } ?? [])
    }

    public func validate() throws {
        if output.count > 16 { throw ValidationError("at most 16 --output (virtio-gpu has 16 scanouts)") }
    }
}
