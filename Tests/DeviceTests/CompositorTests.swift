import Devices
import Logging
import Synchronization
import SystemCalls
import Testing

/// The compositor core ({AVPS-v2.0-28}, {AVPS-v2.0-29}): layers, z-order, masks, alpha,
/// safety regions (AVPS 2.8.4), run-time policy, and its thread.
@Suite struct CompositorTests {
    static let logger = Logger(label: "test.compositor")

    /// A frame of `width`×`height` whose pixel (x, y) is `pixel(x, y)` (B, G, R, X).
    static func frame(_ width: Int, _ height: Int, _ pixel: (Int, Int) -> [UInt8]) -> ScanoutFrame {
        let frame = ScanoutFrame()
        frame.reshape(width: width, height: height)
        var bytes: [UInt8] = []
        for y in 0..<height { for x in 0..<width { bytes += pixel(x, y) } }
        bytes.withUnsafeBytes { frame.copy(.whole(width: width, height: height), from: $0, sourceOffset: 0, sourceStride: width * 4) }
        return frame
    }

    static func patternA(_ x: Int, _ y: Int) -> [UInt8] { [UInt8(x * 5 & 0xFF), UInt8(y * 7 & 0xFF), 0x40, 0x11] }
    static func patternB(_ x: Int, _ y: Int) -> [UInt8] { [0xE0, UInt8(x * 3 & 0xFF), UInt8((x + y) * 11 & 0xFF), 0x22] }

    static func pixel(_ s: ScanoutFrame.Snapshot, _ x: Int, _ y: Int) -> [UInt8] {
        Array(s.pixels[(y * s.width + x) * 4..<(y * s.width + x) * 4 + 4])
    }

    static let a = ScanoutSource(vm: "a", scanout: 0), b = ScanoutSource(vm: "b", scanout: 1)
    static let rectA = GpuRect(x: 0, y: 0, width: 40, height: 30), rectB = GpuRect(x: 20, y: 10, width: 40, height: 30)

    /// Display 64×48: A at rectA (its frame larger than the layer: clipped), B above at rectB.
    static func twoLayers(b layerB: LayerPolicy? = nil, safetyA: [GpuRect] = []) throws -> (Compositor, DisplayPolicy) {
        let policy = DisplayPolicy(name: "main", width: 64, height: 48, layers: [
            LayerPolicy(source: a, destination: rectA, safetyRegions: safetyA),
            layerB ?? LayerPolicy(source: b, destination: rectB),
        ])
        let compositor = try Compositor(displays: [policy], logger: logger)
        compositor.sink(for: "a").scanoutChanged(0, frame: frame(50, 40, patternA))
        compositor.sink(for: "b").scanoutChanged(1, frame: frame(40, 30, patternB))
        return (compositor, policy)
    }

    static func inside(_ r: GpuRect, _ x: Int, _ y: Int) -> Bool {
        x >= Int(r.x) && x < Int(r.x + r.width) && y >= Int(r.y) && y < Int(r.y + r.height)
    }

    @Test func layersAtTheirRectanglesInZOrder() throws {
        let (compositor, _) = try Self.twoLayers()
        defer { compositor.stop() }
        compositor.compose("main")
        let out = try #require(compositor.outputs["main"]).snapshot()
        #expect(out.width == 64 && out.height == 48)
        for y in 0..<48 {
            for x in 0..<64 {
                let expected: [UInt8] = if Self.inside(Self.rectB, x, y) { Self.patternB(x - 20, y - 10) }
                    else if Self.inside(Self.rectA, x, y) { Self.patternA(x, y) } else { [0, 0, 0, 0] }
                #expect(Self.pixel(out, x, y) == expected, "pixel \(x),\(y)")
            }
        }
        #expect(compositor.statistics.framesComposed["main"]! >= 1)
    }

    @Test func smallerOrMissingSourceLeavesTheLayerTransparent() throws {
        let policy = DisplayPolicy(name: "d", width: 16, height: 16, layers: [
            LayerPolicy(source: Self.a, destination: .whole(width: 16, height: 16)),
            LayerPolicy(source: Self.b, destination: GpuRect(x: 4, y: 4, width: 8, height: 8)),
            LayerPolicy(source: ScanoutSource(vm: "nobody", scanout: 0), destination: GpuRect(x: 0, y: 0, width: 16, height: 16)),
        ])
        let compositor = try Compositor(displays: [policy], logger: Self.logger)
        defer { compositor.stop() }
        compositor.sink(for: "a").scanoutChanged(0, frame: Self.frame(16, 16) { _, _ in [1, 2, 3, 4] })
        compositor.sink(for: "b").scanoutChanged(1, frame: Self.frame(3, 2) { _, _ in [9, 9, 9, 9] })
        compositor.compose("d")
        let out = compositor.outputs["d"]!.snapshot()
        for y in 0..<16 {
            for x in 0..<16 {
                let fromB = x >= 4 && x < 7 && y >= 4 && y < 6
                #expect(Self.pixel(out, x, y) == (fromB ? [9, 9, 9, 9] : [1, 2, 3, 4]), "pixel \(x),\(y)")
            }
        }
    }

    @Test func maskedPixelsShowTheLowerLayer() throws {
        // 1-bit mask: B shows only in the right half of its rectangle and on its top row.
        let mask = try AlphaMask(width: 40, height: 30, alpha: (0..<30).flatMap { y in (0..<40).map { x in x >= 20 || y == 0 ? 255 : 0 } })
        try Self.expectB(masked: mask) { x, y in mask.alpha[(y - 10) * 40 + (x - 20)] == 255 }
    }

    /// Composes B over A with `mask` and expects, within B's rectangle, B where `shown(x, y)`
    /// (display coordinates) and whatever is below elsewhere.
    static func expectB(masked mask: AlphaMask, shown: (Int, Int) -> Bool) throws {
        let (compositor, _) = try twoLayers(b: LayerPolicy(source: b, destination: rectB, mask: mask))
        defer { compositor.stop() }
        compositor.compose("main")
        let out = compositor.outputs["main"]!.snapshot()
        for y in 10..<40 {
            for x in 20..<60 {
                let below: [UInt8] = inside(rectA, x, y) ? patternA(x, y) : [0, 0, 0, 0]
                #expect(pixel(out, x, y) == (shown(x, y) ? patternB(x - 20, y - 10) : below), "pixel \(x),\(y)")
            }
        }
    }

    @Test("a 1-bit PBM mask as drawn: B shows where it is white (right half), the layer below where it is black")
    func bitmapMaskFromTheHostsFile() throws {
        // 40 pixels a row, 5 bytes: the left 20 pixels black (bits 1), the right 20 white.
        let row: [UInt8] = [0xFF, 0xFF, 0xF0, 0x00, 0x00]
        let mask = try MaskImage.parse(Array("P4\n# layer B\n40 30\n".utf8) + (0..<30).flatMap { _ in row })
        try Self.expectB(masked: mask) { x, _ in x >= 40 }
    }

    @Test func alphaBlendingWithinOneOfExact() throws {
        let opacity: UInt8 = 200
        let mask = try AlphaMask(width: 40, height: 30, alpha: (0..<30).flatMap { y in (0..<40).map { x in UInt8((x * 7 + y * 13) % 256) } })
        let (compositor, _) = try Self.twoLayers(b: LayerPolicy(source: Self.b, destination: Self.rectB, opacity: opacity, mask: mask))
        defer { compositor.stop() }
        compositor.compose("main")
        let out = compositor.outputs["main"]!.snapshot()
        var worst = 0.0
        for y in 10..<40 {
            for x in 20..<60 {
                let alpha = Double(opacity) / 255 * Double(mask.alpha[(y - 10) * 40 + (x - 20)]) / 255
                let src = Self.patternB(x - 20, y - 10)
                let dst: [UInt8] = Self.inside(Self.rectA, x, y) ? Self.patternA(x, y) : [0, 0, 0, 0]
                let got = Self.pixel(out, x, y)
                for c in 0..<3 {
                    let exact = Double(src[c]) * alpha + Double(dst[c]) * (1 - alpha)
                    worst = max(worst, abs(Double(got[c]) - exact))
                }
            }
        }
        #expect(worst <= 1.0, "largest error \(worst)")
    }

    @Test func uniformOpacityBlendsEveryPixel() throws {
        let (compositor, _) = try Self.twoLayers(b: LayerPolicy(source: Self.b, destination: Self.rectB, opacity: 77))
        defer { compositor.stop() }
        compositor.compose("main")
        let out = compositor.outputs["main"]!.snapshot()
        for y in 10..<40 {
            for x in 20..<60 {
                let src = Self.patternB(x - 20, y - 10), got = Self.pixel(out, x, y)
                let dst: [UInt8] = Self.inside(Self.rectA, x, y) ? Self.patternA(x, y) : [0, 0, 0, 0]
                for c in 0..<4 {
                    let exact: Double = (Double(src[c]) * 77 + Double(dst[c]) * 178) / 255
                    let error: Double = abs(Double(got[c]) - exact)
                    #expect(error <= 1.0, "pixel \(x),\(y) byte \(c)")
                }
            }
        }
    }

    @Test func safetyRegionCoveredByAHigherLayerIsAMismatch() throws {
        // Region 0 lies under B (covered); region 1 is only A's.
        let covered = GpuRect(x: 25, y: 15, width: 8, height: 8), clear = GpuRect(x: 2, y: 2, width: 10, height: 5)
        let (compositor, _) = try Self.twoLayers(safetyA: [covered, clear])
        defer { compositor.stop() }
        // Counted from here: the thread's first frame may predate the sources (a mismatch too).
        let before = compositor.statistics.safety
        compositor.compose("main")
        compositor.compose("main")
        let after = compositor.statistics.safety
        func delta(_ region: Int) throws -> CompositorStatistics.SafetyCount {
            let key = CompositorStatistics.Region(display: "main", layer: 0, region: region)
            let a = try #require(after[key]), b = before[key] ?? .init()
            return .init(checks: a.checks - b.checks, mismatches: a.mismatches - b.mismatches)
        }
        let region0 = try delta(0), region1 = try delta(1)
        #expect(region0.checks >= 2 && region0.mismatches == region0.checks)
        #expect(region1.checks >= 2 && region1.mismatches == 0)
    }

    @Test func setPolicyTakesEffectAndInvalidPoliciesAreRefused() throws {
        let (compositor, policy) = try Self.twoLayers(safetyA: [GpuRect(x: 25, y: 15, width: 8, height: 8)])
        defer { compositor.stop() }
        compositor.compose("main")
        #expect(Self.pixel(compositor.outputs["main"]!.snapshot(), 30, 20) == Self.patternB(10, 10))
        #expect(compositor.statistics.safety[.init(display: "main", layer: 0, region: 0)]!.mismatches >= 1)

        // A above B: the overlap now shows A, and A's region is no longer covered.
        var swapped = policy
        swapped.layers.reverse()
        try compositor.setPolicy(swapped)
        compositor.compose("main")
        #expect(Self.pixel(compositor.outputs["main"]!.snapshot(), 30, 20) == Self.patternA(30, 20))
        let region = try #require(compositor.statistics.safety[.init(display: "main", layer: 1, region: 0)])
        #expect(region.checks >= 1 && region.mismatches == 0)
        #expect(compositor.policy("main") == swapped)

        func refused(_ p: DisplayPolicy, _ expected: DisplayPolicyError) {
            #expect(throws: expected) { try compositor.setPolicy(p) }
        }
        var bad = policy
        bad.layers[1].destination = GpuRect(x: 40, y: 30, width: 40, height: 30)
        refused(bad, .destinationOutsideDisplay(display: "main", layer: 1, destination: bad.layers[1].destination))
        bad = policy
        bad.layers[1].mask = try AlphaMask(width: 10, height: 10, uniform: 255)
        refused(bad, .maskSize(display: "main", layer: 1, maskWidth: 10, maskHeight: 10, destination: Self.rectB))
        bad = policy
        bad.layers[0].safetyRegions = [GpuRect(x: 35, y: 0, width: 10, height: 10)]
        refused(bad, .safetyRegionOutsideLayer(display: "main", layer: 0, region: 0, rect: GpuRect(x: 35, y: 0, width: 10, height: 10), destination: Self.rectA))
        bad = policy
        bad.layers[0].source.scanout = 16
        refused(bad, .scanoutOutOfRange(display: "main", layer: 0, scanout: 16))
        bad = policy
        bad.width = 0
        refused(bad, .displaySize(display: "main", width: 0, height: 48))
        bad = policy
        bad.name = "other"
        refused(bad, .unknownDisplay("other"))
        #expect(throws: DisplayPolicyError.maskData(width: 4, height: 4, count: 15)) { try AlphaMask(width: 4, height: 4, alpha: [UInt8](repeating: 0, count: 15)) }
        #expect(throws: DisplayPolicyError.duplicateDisplay("main")) { try Compositor(displays: [policy, policy], logger: Self.logger) }
        // Refused policies changed nothing.
        #expect(compositor.policy("main") == swapped)
    }

    /// Signals an eventfd on each composition; can hold the compositor's thread to show that
    /// the scanout sinks never wait for it.
    final class Watcher: DisplaySink, @unchecked Sendable {
        let composed = try! EventFD()
        let release = try! EventFD()
        let hold = Atomic<Bool>(false)

        func displayComposed(_ name: String, frame: ScanoutFrame, generation: UInt64) {
            composed.signal()
            if hold.load(ordering: .relaxed) { _ = release.wait(timeoutMilliseconds: 5000) }
        }
    }

    @Test func threadComposesAfterASinkUpdate() throws {
        let policy = DisplayPolicy(name: "d", width: 8, height: 8, layers: [LayerPolicy(source: Self.a, destination: .whole(width: 8, height: 8))])
        let compositor = try Compositor(displays: [policy], logger: Self.logger)
        defer { compositor.stop() }
        let watcher = Watcher()
        compositor.addOutput(watcher)
        let source = Self.frame(8, 8) { _, _ in [5, 6, 7, 8] }
        compositor.sink(for: "a").scanoutChanged(0, frame: source)
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while Self.pixel(compositor.outputs["d"]!.snapshot(), 7, 7) != [5, 6, 7, 8], MonotonicClock.nanoseconds() < deadline {
            _ = watcher.composed.wait(timeoutMilliseconds: 100)
        }
        #expect(Self.pixel(compositor.outputs["d"]!.snapshot(), 7, 7) == [5, 6, 7, 8])

        // A partial update: only the changed rectangle's new pixels need arrive.
        let patch = [UInt8](repeating: 0x33, count: 2 * 2 * 4)
        let rect = GpuRect(x: 3, y: 3, width: 2, height: 2)
        patch.withUnsafeBytes { source.copy(rect, from: $0, sourceOffset: 0, sourceStride: 8) }
        compositor.sink(for: "a").scanoutUpdated(0, rect: rect, frame: source)
        while Self.pixel(compositor.outputs["d"]!.snapshot(), 4, 4) != [0x33, 0x33, 0x33, 0x33], MonotonicClock.nanoseconds() < deadline {
            _ = watcher.composed.wait(timeoutMilliseconds: 100)
        }
        let out = compositor.outputs["d"]!.snapshot()
        #expect(Self.pixel(out, 4, 4) == [0x33, 0x33, 0x33, 0x33] && Self.pixel(out, 2, 2) == [5, 6, 7, 8])
    }

    /// The thread composes only what changed (plus the safety regions): the result must be
    /// the whole composition's, with no translucent pixel blended twice.
    @Test func partialCompositionEqualsAWholeOne() throws {
        let mask = try AlphaMask(width: 40, height: 30, alpha: (0..<30).flatMap { y in (0..<40).map { x in UInt8((x * 9 + y) % 256) } })
        let (compositor, _) = try Self.twoLayers(b: LayerPolicy(source: Self.b, destination: Self.rectB, opacity: 180, mask: mask,
                                                                 safetyRegions: [GpuRect(x: 5, y: 5, width: 12, height: 10)]))
        defer { compositor.stop() }
        let watcher = Watcher()
        compositor.addOutput(watcher)
        while watcher.composed.wait(timeoutMilliseconds: 300) != nil {}   // until the first frames are done
        let frameB = Self.frame(40, 30, Self.patternB)
        let patch = [UInt8](repeating: 0x99, count: 10 * 10 * 4), rect = GpuRect(x: 10, y: 10, width: 10, height: 10)
        patch.withUnsafeBytes { frameB.copy(rect, from: $0, sourceOffset: 0, sourceStride: 40) }
        compositor.sink(for: "b").scanoutChanged(1, frame: frameB)
        while watcher.composed.wait(timeoutMilliseconds: 300) != nil {}
        patch.withUnsafeBytes { frameB.copy(GpuRect(x: 0, y: 0, width: 10, height: 10), from: $0, sourceOffset: 0, sourceStride: 40) }
        compositor.sink(for: "b").scanoutUpdated(1, rect: GpuRect(x: 0, y: 0, width: 10, height: 10), frame: frameB)
        #expect(watcher.composed.wait(timeoutMilliseconds: 5000) != nil)
        let partial = compositor.outputs["main"]!.snapshot().pixels
        compositor.compose("main")
        let whole = compositor.outputs["main"]!.snapshot().pixels
        #expect(partial.count == whole.count)
        #expect(zip(partial, whole).filter { $0 != $1 }.count == 0, "bytes that differ")
    }

    @Test func sinkReturnsAtOnceWhileTheCompositorIsBusy() throws {
        let policy = DisplayPolicy(name: "d", width: 8, height: 8, layers: [LayerPolicy(source: Self.a, destination: .whole(width: 8, height: 8))])
        let compositor = try Compositor(displays: [policy], maxFramesPerSecond: 1000, logger: Self.logger)
        let watcher = Watcher()
        watcher.hold.store(true, ordering: .relaxed)
        compositor.addOutput(watcher)
        let sink = compositor.sink(for: "a")
        let source = Self.frame(8, 8) { _, _ in [1, 1, 1, 1] }
        sink.scanoutChanged(0, frame: source)
        #expect(watcher.composed.wait(timeoutMilliseconds: 5000) != nil)   // the thread is now held in the display sink
        let start = MonotonicClock.nanoseconds()
        for i in 0..<1000 { sink.scanoutUpdated(0, rect: GpuRect(x: UInt32(i % 8), y: 0, width: 1, height: 1), frame: source) }
        let perCall = Double(MonotonicClock.nanoseconds() - start) / 1000
        watcher.hold.store(false, ordering: .relaxed)
        watcher.release.signal()
        compositor.stop()
        #expect(perCall < 1_000_000, "\(perCall) ns per sink call")   // microseconds in practice; never a composition's wait
    }

    @Test func framesPerSecondIsBounded() throws {
        let policy = DisplayPolicy(name: "d", width: 8, height: 8, layers: [LayerPolicy(source: Self.a, destination: .whole(width: 8, height: 8))])
        let compositor = try Compositor(displays: [policy], maxFramesPerSecond: 5, logger: Self.logger)
        let sink = compositor.sink(for: "a")
        let source = Self.frame(8, 8) { _, _ in [1, 1, 1, 1] }
        let start = MonotonicClock.nanoseconds()
        while MonotonicClock.nanoseconds() - start < 600_000_000 {
            sink.scanoutUpdated(0, rect: .whole(width: 8, height: 8), frame: source)
            MonotonicClock.sleep(milliseconds: 2)
        }
        compositor.stop()
        // 5 per second over 0.6 s: at t = 0, 0.2, 0.4, 0.6 (and the first, black frame at start).
        let frames = compositor.statistics.framesComposed["d"] ?? 0
        #expect(frames >= 2 && frames <= 6, "\(frames) frames")
    }

    @Test func crc32MatchesTheStandard() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        var pieces = CRC32()
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        for chunk in stride(from: 0, to: bytes.count, by: 13) { pieces.update(Array(bytes[chunk..<min(chunk + 13, bytes.count)])) }
        var slow: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            slow ^= UInt32(byte)
            for _ in 0..<8 { slow = slow & 1 == 1 ? 0xEDB8_8320 ^ (slow >> 1) : slow >> 1 }
        }
        #expect(pieces.value == slow ^ 0xFFFF_FFFF)
    }
}

@Suite struct CompositorStatisticsFile {
    @Test func jsonRoundTrips() throws {
        var statistics = CompositorStatistics()
        statistics.framesComposed = ["cockpit": 42]
        statistics.safety[.init(display: "cockpit", layer: 1, region: 2)] = .init(checks: 42, mismatches: 7)
        #expect(CompositorStatistics(json: statistics.json) == statistics)
        #expect(CompositorStatistics(json: Array("{not json".utf8)) == nil)
    }
}
