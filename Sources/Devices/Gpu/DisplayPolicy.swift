/// How one physical display is composed from VMs' scanouts ({AVPS-v2.0-28}, {AVPS-v2.0-29}):
/// its size and its layers, bottom to top, each with its place, opacity, mask and safety
/// regions. AVPS 2.8 wants the composition decided by a host policy: a policy comes from
/// the host's configuration only (the platform file, `avp serve gpu --layer`), never from a
/// guest. A guest only decides the pixels of its own scanouts.
public struct DisplayPolicy: Sendable, Equatable {
    /// Largest display side: the largest scanout a VM can be given (`GpuDevice.maxSide`).
    public static let maxSide = GpuDevice.maxSide
    /// Layers per display; each costs a pass over its pixels in every composition.
    public static let maxLayers = 64

    public var name: String
    public var width: Int
    public var height: Int
    /// Bottom to top: a later layer covers an earlier one.
    public var layers: [LayerPolicy]

    public init(name: String, width: Int, height: Int, layers: [LayerPolicy] = []) {
        self.name = name
        self.width = width
        self.height = height
        self.layers = layers
    }

    /// Reports the first problem: a size out of range, a layer outside the display, a mask
    /// that is not the layer's size, a safety region outside its layer.
    public func validate() throws(DisplayPolicyError) {
        guard !name.isEmpty else { throw .unnamedDisplay }
        guard (1...Self.maxSide).contains(width), (1...Self.maxSide).contains(height) else {
            throw .displaySize(display: name, width: width, height: height)
        }
        guard layers.count <= Self.maxLayers else { throw .tooManyLayers(display: name, count: layers.count) }
        for (index, layer) in layers.enumerated() {
            guard (0..<GpuResponse.maxScanouts).contains(layer.source.scanout) else {
                throw .scanoutOutOfRange(display: name, layer: index, scanout: layer.source.scanout)
            }
            guard !layer.source.vm.isEmpty else { throw .unnamedVM(display: name, layer: index) }
            guard !layer.destination.isEmpty, layer.destination.fits(width: width, height: height) else {
                throw .destinationOutsideDisplay(display: name, layer: index, destination: layer.destination)
            }
            let size = (width: Int(layer.destination.width), height: Int(layer.destination.height))
            if let mask = layer.mask, mask.width != size.width || mask.height != size.height {
                throw .maskSize(display: name, layer: index, maskWidth: mask.width, maskHeight: mask.height, destination: layer.destination)
            }
            for (r, region) in layer.safetyRegions.enumerated() {
                guard !region.isEmpty, region.fits(width: size.width, height: size.height) else {
                    throw .safetyRegionOutsideLayer(display: name, layer: index, region: r, rect: region, destination: layer.destination)
                }
            }
        }
    }
}

/// Which VM scanout a layer shows: the VM's name (as its compositor sink was made with,
/// `Compositor.sink(for:)`) and the scanout index on that VM's GPU (0 to 15).
public struct ScanoutSource: Sendable, Hashable, CustomStringConvertible {
    public var vm: String
    public var scanout: Int

    public init(vm: String, scanout: Int) {
        self.vm = vm
        self.scanout = scanout
    }

    public var description: String { "\(vm):\(scanout)" }
}

/// One layer of a display.
public struct LayerPolicy: Sendable, Equatable {
    public var source: ScanoutSource
    /// Where on the display the source shows, unscaled: the platform gives the VM a scanout
    /// of this size. A source that is larger is clipped; one that is smaller (or disabled)
    /// leaves the rest of the rectangle transparent.
    public var destination: GpuRect
    /// 255: opaque; 0: invisible.
    public var opacity: UInt8
    /// Per-pixel alpha over `destination` (its size), multiplied with `opacity`.
    public var mask: AlphaMask?
    /// Rectangles in the source scanout's coordinates (within `destination`'s size) whose
    /// displayed pixels must equal the source's: every composition checks them by CRC
    /// (AVPS 2.8.4), e.g. a cluster VM's tell-tales that nothing may cover or fade.
    public var safetyRegions: [GpuRect]

    public init(source: ScanoutSource, destination: GpuRect, opacity: UInt8 = 255, mask: AlphaMask? = nil, safetyRegions: [GpuRect] = []) {
        self.source = source
        self.destination = destination
        self.opacity = opacity
        self.mask = mask
        self.safetyRegions = safetyRegions
    }
}

/// An 8-bit alpha per pixel, rows of `width` bytes (255: the layer shows, 0: the layers
/// below show). A 1-bit mask is given as 0 and 255. Its size is checked when it is made.
public struct AlphaMask: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let alpha: [UInt8]

    public init(width: Int, height: Int, alpha: [UInt8]) throws(DisplayPolicyError) {
        guard (1...DisplayPolicy.maxSide).contains(width), (1...DisplayPolicy.maxSide).contains(height), alpha.count == width * height else {
            throw .maskData(width: width, height: height, count: alpha.count)
        }
        self.width = width
        self.height = height
        self.alpha = alpha
    }

    /// A mask of one value everywhere.
    public init(width: Int, height: Int, uniform value: UInt8) throws(DisplayPolicyError) {
        guard (1...DisplayPolicy.maxSide).contains(width), (1...DisplayPolicy.maxSide).contains(height) else {
            throw .maskData(width: width, height: height, count: 0)
        }
        try self.init(width: width, height: height, alpha: [UInt8](repeating: value, count: width * height))
    }
}

/// What is wrong with a display policy; every case names the display and the layer
/// (index, bottom first) so the host's configuration can be fixed.
public enum DisplayPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    case unnamedDisplay
    case duplicateDisplay(String)
    /// `Compositor.setPolicy` for a display the compositor was not made with.
    case unknownDisplay(String)
    case displaySize(display: String, width: Int, height: Int)
    case tooManyLayers(display: String, count: Int)
    case unnamedVM(display: String, layer: Int)
    case scanoutOutOfRange(display: String, layer: Int, scanout: Int)
    case destinationOutsideDisplay(display: String, layer: Int, destination: GpuRect)
    case maskSize(display: String, layer: Int, maskWidth: Int, maskHeight: Int, destination: GpuRect)
    case safetyRegionOutsideLayer(display: String, layer: Int, region: Int, rect: GpuRect, destination: GpuRect)
    /// An `AlphaMask` whose data is not `width * height` bytes (or whose sides are out of range).
    case maskData(width: Int, height: Int, count: Int)

    public var description: String {
        switch self {
        case .unnamedDisplay: "a display needs a name"
        case let .duplicateDisplay(name): "display '\(name)' is given twice"
        case let .unknownDisplay(name): "there is no display '\(name)' (displays are fixed when the compositor starts)"
        case let .displaySize(name, w, h): "display '\(name)' is \(w)x\(h); each side must be 1 to \(DisplayPolicy.maxSide)"
        case let .tooManyLayers(name, n): "display '\(name)' has \(n) layers; at most \(DisplayPolicy.maxLayers)"
        case let .unnamedVM(name, l): "display '\(name)' layer \(l): the source names no VM"
        case let .scanoutOutOfRange(name, l, s): "display '\(name)' layer \(l): scanout \(s) is not 0 to \(GpuResponse.maxScanouts - 1)"
        case let .destinationOutsideDisplay(name, l, d): "display '\(name)' layer \(l): destination \(d) is empty or not within the display"
        case let .maskSize(name, l, mw, mh, d): "display '\(name)' layer \(l): mask is \(mw)x\(mh), the destination \(d.width)x\(d.height)"
        case let .safetyRegionOutsideLayer(name, l, r, rect, d):
            "display '\(name)' layer \(l): safety region \(r) (\(rect)) is empty or not within the layer's \(d.width)x\(d.height)"
        case let .maskData(w, h, n): "a \(w)x\(h) mask needs \(w)*\(h) alpha bytes (sides 1 to \(DisplayPolicy.maxSide)), not \(n)"
        }
    }
}

extension DisplayPolicy {
    /// What a person touching the display at (x, y) touches: the topmost layer there that
    /// shows (opacity and mask above 0), with the point in that layer's own coordinates (its
    /// scanout's pixels). Nil outside every layer that shows.
    public func layer(at x: Int, _ y: Int) -> (index: Int, source: ScanoutSource, x: Int, y: Int)? {
        for (index, layer) in layers.enumerated().reversed() where layer.opacity > 0 {
            let d = layer.destination
            let lx = x - Int(d.x), ly = y - Int(d.y)
            guard (0..<Int(d.width)).contains(lx), (0..<Int(d.height)).contains(ly) else { continue }
            // `validate` makes a mask its layer's size; a policy that skipped it is not trusted.
            if let mask = layer.mask, lx >= mask.width || ly >= mask.height || mask.alpha[ly * mask.width + lx] == 0 { continue }
            return (index, layer.source, lx, ly)
        }
        return nil
    }
}
