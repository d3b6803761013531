/// One composition pass: the layers of a display drawn, bottom to top, into its output
/// frame within some rectangles, and the CRCs of its safety regions ({AVPS-v2.0-29}).
/// No threads and no policy decisions here: `Compositor` says what and when.
enum Composition {
    /// A layer's alpha as drawn: the policy's opacity times its mask, worked out once when
    /// the policy is installed, not per frame.
    enum Alpha: Sendable {
        case opaque
        case invisible
        case uniform(UInt8)
        /// Per destination pixel, rows of the destination's width.
        case perPixel([UInt8])

        /// opacity * mask / 255, rounded; a mask whose product is the same everywhere becomes uniform.
        init(opacity: UInt8, mask: AlphaMask?) {
            guard let mask else {
                self = opacity == 255 ? .opaque : opacity == 0 ? .invisible : .uniform(opacity)
                return
            }
            let o = UInt32(opacity)
            let alphas = mask.alpha.map { UInt8((o * UInt32($0) + 127) / 255) }
            if let first = alphas.first, alphas.allSatisfy({ $0 == first }) {
                self.init(opacity: first, mask: nil)
            } else {
                self = .perPixel(alphas)
            }
        }
    }

    /// A layer ready to draw: nil `frame` when no VM has shown that scanout yet.
    struct Layer {
        var policy: LayerPolicy
        var alpha: Alpha
        var frame: ScanoutFrame?
    }

    /// Per layer, per safety region: the CRC of the output there and of the source there
    /// (nil: the source does not cover the region, or the output is not the policy's size).
    struct SafetyCRCs {
        var output: [[UInt32?]]
        var source: [[UInt32?]]
    }

    /// Draws `layers` into `output` within `rects` (display coordinates, disjoint; clipped to
    /// the output) over black, checks the safety regions, and returns the output's new generation.
    ///
    /// The output's lock is held throughout and each source's while its layer is drawn and its
    /// safety regions summed, so a region's source CRC is of exactly the pixels drawn. A rect
    /// whose topmost covering layer is opaque starts at that layer (nothing below is drawn).
    static func draw(_ layers: [Layer], in rects: [GpuRect], into output: ScanoutFrame) -> (generation: UInt64, safety: SafetyCRCs) {
        // Where each layer's source shows, by the sizes before locking; a source that changes
        // size meanwhile is caught below and its VM's next update recomposes the area.
        let visible: [GpuRect?] = layers.map { layer in
            guard let frame = layer.frame, frame !== output else { return nil }
            let size = frame.size
            return shown(layer.policy.destination, width: size.width, height: size.height)
        }
        var safety = SafetyCRCs(output: layers.map { _ in [] }, source: layers.map { _ in [] })
        let generation = output.withMutablePixels { out, width, height in
            guard out.count >= width * height * 4, let base = out.baseAddress else { return }
            let display = GpuRect.whole(width: width, height: height)
            let pieces = rects.compactMap { $0.intersection(display) }.flatMap { split($0, layers, visible, below: layers.count) }
            let clipped = pieces.map(\.rect), start = pieces.map(\.start)
            for (k, rect) in clipped.enumerated() where start[k] == nil { fill(base, width: width, rect) }
            for (i, layer) in layers.enumerated() {
                let regions = layer.policy.safetyRegions
                // A display's own output is never its source (its lock is held here).
                guard let frame = layer.frame, frame !== output else {
                    safety.source[i] = regions.map { _ in nil }
                    continue
                }
                frame.withPixels { src, sw, sh, _ in
                    guard src.count >= sw * sh * 4, let source = src.baseAddress else {
                        safety.source[i] = regions.map { _ in nil }
                        return
                    }
                    let shows = shown(layer.policy.destination, width: sw, height: sh)
                    for (k, rect) in clipped.enumerated() where (start[k] ?? 0) <= i {
                        if start[k] == i, shows?.intersection(rect) != rect { fill(base, width: width, rect) }
                        guard let shows, let part = rect.intersection(shows) else { continue }
                        drawRows(layer, part, from: source, sourceWidth: sw, into: base, width: width)
                    }
                    safety.source[i] = regions.map { region in
                        region.fits(width: sw, height: sh) ? crc(source, width: sw, region) : nil
                    }
                }
            }
            for (i, layer) in layers.enumerated() {
                let d = layer.policy.destination
                safety.output[i] = layer.policy.safetyRegions.map { r in
                    let at = GpuRect(x: d.x &+ r.x, y: d.y &+ r.y, width: r.width, height: r.height)
                    return at.fits(width: width, height: height) && r.fits(width: Int(d.width), height: Int(d.height))
                        ? crc(UnsafeRawPointer(base), width: width, at) : nil
                }
            }
        }
        return (generation, safety)
    }

    /// `rect` cut into pieces, each with the topmost opaque layer (below index `below`) that
    /// covers it, where drawing starts (nil: from black). Pixels an opaque layer covers are
    /// neither cleared nor drawn by the layers under it. Gives up splitting (draws from black)
    /// past 64 pieces, which only many overlapping opaque layers reach.
    static func split(_ rect: GpuRect, _ layers: [Layer], _ visible: [GpuRect?], below: Int, budget: Int = 64) -> [(rect: GpuRect, start: Int?)] {
        let opaque = layers.indices.prefix(below).last { (i: Int) -> Bool in
            if case .opaque = layers[i].alpha, let v = visible[i], v.intersection(rect) != nil { return true }
            return false
        }
        guard let opaque, let v = visible[opaque], let inner = v.intersection(rect) else { return [(rect, nil)] }
        var out: [(rect: GpuRect, start: Int?)] = [(inner, opaque)]
        for piece in subtract(v, from: rect) {
            out += budget > out.count ? split(piece, layers, visible, below: opaque, budget: budget - out.count) : [(piece, nil)]
        }
        return out
    }

    /// The part of `destination` a `width`×`height` source covers (no scaling: it is clipped
    /// to the destination, and a smaller one leaves the rest uncovered); nil when disabled.
    static func shown(_ destination: GpuRect, width: Int, height: Int) -> GpuRect? {
        let rect = GpuRect(x: destination.x, y: destination.y,
                           width: min(destination.width, UInt32(clamping: width)), height: min(destination.height, UInt32(clamping: height)))
        return rect.isEmpty ? nil : rect
    }

    /// Draws `part` (display coordinates, within the layer's shown rectangle) of `layer`.
    private static func drawRows(_ layer: Layer, _ part: GpuRect, from source: UnsafeRawPointer, sourceWidth: Int,
                                 into out: UnsafeMutableRawPointer, width: Int) {
        let d = layer.policy.destination
        let sx = Int(part.x - d.x), count = Int(part.width)
        func rows(_ body: (_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ sy: Int) -> Void) {
            for y in Int(part.y)..<Int(part.y) + Int(part.height) {
                let sy = y - Int(d.y)
                body(out + (y * width + Int(part.x)) * 4, source + (sy * sourceWidth + sx) * 4, sy)
            }
        }
        switch layer.alpha {
        case .invisible: return
        case .opaque: rows { dst, src, _ in PixelBlend.copy(dst, src, pixels: count) }
        case let .uniform(a): rows { dst, src, _ in PixelBlend.blend(dst, src, alpha: a, pixels: count) }
        case let .perPixel(alphas):
            alphas.withUnsafeBufferPointer { mask in
                guard let m = mask.baseAddress, mask.count >= Int(d.width) * Int(d.height) else { return }
                rows { dst, src, sy in PixelBlend.blend(dst, src, alphas: m + sy * Int(d.width) + sx, pixels: count) }
            }
        }
    }

    private static func fill(_ out: UnsafeMutableRawPointer, width: Int, _ rect: GpuRect) {
        for y in Int(rect.y)..<Int(rect.y) + Int(rect.height) {
            PixelBlend.clear(out + (y * width + Int(rect.x)) * 4, pixels: Int(rect.width))
        }
    }

    /// CRC-32 of `rect`'s pixels (within the image), row after row.
    static func crc(_ pixels: UnsafeRawPointer, width: Int, _ rect: GpuRect) -> UInt32 {
        var crc = CRC32()
        for y in Int(rect.y)..<Int(rect.y) + Int(rect.height) {
            crc.update(UnsafeRawBufferPointer(start: pixels + (y * width + Int(rect.x)) * 4, count: Int(rect.width) * 4))
        }
        return crc.value
    }

    /// `rects` made disjoint: each rectangle minus those before it, so no pixel is drawn twice
    /// in one pass (a translucent layer drawn twice would blend twice).
    static func disjoint(_ rects: [GpuRect]) -> [GpuRect] {
        var out: [GpuRect] = []
        for rect in rects where !rect.isEmpty {
            var pieces = [rect]
            for existing in out { pieces = pieces.flatMap { subtract(existing, from: $0) } }
            out += pieces
        }
        return out
    }

    /// `rect` minus `cut`: up to four rectangles (the bands above and below, then left and right).
    static func subtract(_ cut: GpuRect, from rect: GpuRect) -> [GpuRect] {
        guard let inner = rect.intersection(cut) else { return [rect] }
        var out: [GpuRect] = []
        let rectBottom = rect.y + rect.height, innerBottom = inner.y + inner.height
        if inner.y > rect.y { out.append(GpuRect(x: rect.x, y: rect.y, width: rect.width, height: inner.y - rect.y)) }
        if innerBottom < rectBottom { out.append(GpuRect(x: rect.x, y: innerBottom, width: rect.width, height: rectBottom - innerBottom)) }
        if inner.x > rect.x { out.append(GpuRect(x: rect.x, y: inner.y, width: inner.x - rect.x, height: inner.height)) }
        let rectRight = rect.x + rect.width, innerRight = inner.x + inner.width
        if innerRight < rectRight { out.append(GpuRect(x: innerRight, y: inner.y, width: rectRight - innerRight, height: inner.height)) }
        return out
    }
}
