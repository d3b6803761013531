import ArgumentParser
import Devices
import VhostUser

/// An output that belongs to something named: `--scanout vm=NAME,mode=WxH[@HZ],size=WxH` (the
/// next scanout of a `--vm`, in order) or `--display name=NAME,mode=...,size=...` (an output the
/// layers are composed onto).
public struct GpuNamedOutput: Sendable, Equatable {
    /// "vm" for scanouts, "name" for displays.
    public let key: String
    public var owner: String
    public var output: GpuOutputOption

    public static func scanout(vm: String, mode: DisplayMode) -> GpuNamedOutput { GpuNamedOutput(key: "vm", owner: vm, output: GpuOutputOption(mode)) }
    public static func display(name: String, mode: DisplayMode) -> GpuNamedOutput { GpuNamedOutput(key: "name", owner: name, output: GpuOutputOption(mode)) }

    init(key: String, owner: String, output: GpuOutputOption) {
        self.key = key
        self.owner = owner
        self.output = output
    }

    public init(parsing text: String, key: String) throws {
        let what = (key == "vm" ? "scanout " : "display ") + UserText.quoted(text)
        let fields = try KeyValueList(parsing: text, what: what, known: [key, "mode", "size"])
        self.key = key
        owner = try fields.required(key)
        output = try GpuOutputOption(parsing: "mode=\(try fields.required("mode")),size=\(try fields.required("size"))")
    }

    public var text: String { "\(key)=\(owner),\(output.text)" }
}

/// `--layer display=D,vm=V,scanout=N,at=X:Y:W:H[,opacity=0..255][,safety=X:Y:W:H+...][,mask=PATH]`, bottom to top.
public struct GpuLayerOption: Sendable, Equatable {
    public var display: String
    /// The layer; its `mask` is nil until `GpuServeOptions.displayPolicies` reads `mask`.
    public var layer: LayerPolicy
    /// A mask image (`MaskImage`: binary PGM or PBM of the layer's size), as the host's
    /// configuration names it ({AVPS-v2.0-29}); the plan gives an absolute path without ','.
    public var mask: String?

    public init(display: String, layer: LayerPolicy, mask: String? = nil) {
        self.display = display
        self.layer = layer
        self.mask = mask
    }

    public init(parsing text: String) throws {
        let what = "layer \(UserText.quoted(text))"
        let fields = try KeyValueList(parsing: text, what: what, known: ["display", "vm", "scanout", "at", "opacity", "safety", "mask"])
        display = try fields.required("display")
        guard case let .value(scanout) = WholeNumber.read(try fields.required("scanout")), (0..<GpuResponse.maxScanouts).contains(scanout) else {
            throw ValidationError("\(what): scanout= is 0 to 15")
        }
        guard let at = Self.rect(try fields.required("at")) else { throw ValidationError("\(what): at= is X:Y:WIDTH:HEIGHT") }
        var opacity = 255
        if let text = fields.value("opacity") {
            guard case let .value(n) = WholeNumber.read(text), (0...255).contains(n) else { throw ValidationError("\(what): opacity= is 0 to 255") }
            opacity = n
        }
        let safety = try (fields.value("safety").map { $0.split(separator: "+", omittingEmptySubsequences: false) } ?? []).map {
            guard let r = Self.rect(String($0)) else { throw ValidationError("\(what): safety= is X:Y:WIDTH:HEIGHT[+...]") }
            return r
        }
        layer = LayerPolicy(source: ScanoutSource(vm: try fields.required("vm"), scanout: scanout), destination: at,
                            opacity: UInt8(opacity), mask: nil, safetyRegions: safety)
        mask = fields.value("mask")
        if mask?.isEmpty == true { throw ValidationError("\(what): mask= needs a path") }
    }

    /// The layer with its mask read from `mask`, if it names one.
    public func loaded() throws -> LayerPolicy {
        guard let mask else { return layer }
        var policy = layer
        do { policy.mask = try MaskImage.load(path: mask) } catch {
            throw ValidationError("--layer display=\(display),vm=\(layer.source.vm),scanout=\(layer.source.scanout): mask \(mask): \(error)")
        }
        return policy
    }

    static func rect(_ text: String) -> GpuRect? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { WholeNumber.read(String($0)) }
        guard parts.count == 4 else { return nil }
        let values = parts.compactMap { if case let .value(v) = $0, (0...65535).contains(v) { UInt32(v) } else { nil } }
        guard values.count == 4 else { return nil }
        return GpuRect(x: values[0], y: values[1], width: values[2], height: values[3])
    }

    static func text(_ r: GpuRect) -> String { "\(r.x):\(r.y):\(r.width):\(r.height)" }

    public var text: String {
        var fields = KeyValueList(what: "layer")
        fields.append("display", display)
        fields.append("vm", layer.source.vm)
        fields.append("scanout", String(layer.source.scanout))
        fields.append("at", Self.text(layer.destination))
        fields.append("opacity", String(layer.opacity))
        if !layer.safetyRegions.isEmpty { fields.append("safety", layer.safetyRegions.map(Self.text).joined(separator: "+")) }
        if let mask { fields.append("mask", mask) }
        return fields.text
    }
}

/// `--touch vm=NAME,events=SOCKET` of `avp serve gpu`: the VM's touchscreen, an input server's
/// events socket; the web view's touches on that VM's layers go there, in the layer's pixels.
public struct GpuTouchOption: Sendable, Equatable {
    public var vm: String
    public var events: String

    public init(vm: String, events: String) {
        self.vm = vm
        self.events = events
    }

    public init(parsing text: String) throws {
        let fields = try KeyValueList(parsing: text, what: "touch \(UserText.quoted(text))", known: ["vm", "events"])
        self.init(vm: try fields.required("vm"), events: try fields.required("events"))
    }

    public var text: String {
        var fields = KeyValueList(what: "touch")
        fields.append("vm", vm)
        fields.append("events", events)
        return fields.text
    }
}
