import ArgumentParser
import Devices
import Foundation
import SystemCalls

/// The compositor's cost per frame: two 1280×720 layers onto a 1920×1080 display (one
/// opaque at 0,0; one at 640,360 with opacity 200 and an 8-bit mask), the whole display
/// composed each time with `Compositor.compose`. bench/pixman-blend.c does the same work
/// with pixman, on the same pixels (the formulas below are written out there too).
struct CompositorLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compositor",
        abstract: "Compose two 1280x720 layers (opaque; opacity 200 + 8-bit mask) onto 1920x1080; prints one key=value line.")

    @Option(help: "Frames measured (after 20 unmeasured).") var iterations = 500
    @Option(help: "Safety regions (256x128, uncovered) on the opaque layer, 0 to 4, CRC-checked every frame.") var safetyRegions = 0
    @Option(help: "Write the composed frame (B, G, R, X rows) to this file.") var output: String?

    static let width = 1920, height = 1080, layerWidth = 1280, layerHeight = 720

    /// Pixel (x, y) of layer `layer` as B, G, R, X.
    static func pixel(_ layer: Int, _ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8, UInt8) {
        layer == 0
            ? (UInt8((x * 3 + y) & 255), UInt8((y * 5) & 255), UInt8((x ^ y) & 255), 255)
            : (UInt8((255 - x) & 255), UInt8((x + y * 2) & 255), UInt8((y * 7) & 255), 255)
    }

    static func mask(_ x: Int, _ y: Int) -> UInt8 { UInt8((x * 2 + y * 3) & 255) }

    static func frame(_ layer: Int) -> ScanoutFrame {
        var bytes = [UInt8](repeating: 0, count: layerWidth * layerHeight * 4)
        for y in 0..<layerHeight {
            for x in 0..<layerWidth {
                let p = pixel(layer, x, y), o = (y * layerWidth + x) * 4
                bytes[o] = p.0; bytes[o + 1] = p.1; bytes[o + 2] = p.2; bytes[o + 3] = p.3
            }
        }
        let frame = ScanoutFrame()
        frame.reshape(width: layerWidth, height: layerHeight)
        bytes.withUnsafeBytes {
            frame.copy(.whole(width: layerWidth, height: layerHeight), from: $0, sourceOffset: 0, sourceStride: layerWidth * 4)
        }
        return frame
    }

    func run() throws {
        guard iterations >= 1, (0...4).contains(safetyRegions) else { throw ValidationError("iterations >= 1, safety regions 0 to 4") }
        let size = GpuRect(x: 0, y: 0, width: UInt32(Self.layerWidth), height: UInt32(Self.layerHeight))
        let regions = (0..<safetyRegions).map { GpuRect(x: 16, y: UInt32(16 + $0 * 140), width: 256, height: 128) }
        let mask = try AlphaMask(width: Self.layerWidth, height: Self.layerHeight,
                                 alpha: (0..<Self.layerHeight).flatMap { y in (0..<Self.layerWidth).map { x in Self.mask(x, y) } })
        let policy = DisplayPolicy(name: "bench", width: Self.width, height: Self.height, layers: [
            LayerPolicy(source: ScanoutSource(vm: "a", scanout: 0), destination: size, safetyRegions: regions),
            LayerPolicy(source: ScanoutSource(vm: "b", scanout: 0), destination: GpuRect(x: 640, y: 360, width: size.width, height: size.height),
                        opacity: 200, mask: mask),
        ])
        let compositor = try Compositor(displays: [policy])
        defer { compositor.stop() }
        compositor.sink(for: "a").scanoutChanged(0, frame: Self.frame(0))
        compositor.sink(for: "b").scanoutChanged(0, frame: Self.frame(1))

        for _ in 0..<20 { compositor.compose("bench") }
        var times: [Double] = []
        times.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let start = MonotonicClock.nanoseconds()
            compositor.compose("bench")
            times.append(Double(MonotonicClock.nanoseconds() - start) / 1e6)
        }
        times.sort()
        let mismatches = compositor.statistics.safety.values.reduce(0) { $0 + $1.mismatches }
        print(String(format: "frames=%d p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f safety_regions=%d safety_mismatches=%d",
                     iterations, times[times.count / 2], times[min(times.count - 1, times.count * 99 / 100)],
                     times.reduce(0, +) / Double(times.count), safetyRegions, mismatches))
        if let output {
            let pixels = compositor.outputs["bench"]!.snapshot().pixels
            try Data(pixels).write(to: URL(fileURLWithPath: output))
        }
    }
}
