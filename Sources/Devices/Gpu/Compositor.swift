import Logging
import Synchronization
import SystemCalls
import Virtio

/// Composes several VMs' scanouts onto displays under the host's policy ({AVPS-v2.0-28},
/// {AVPS-v2.0-29}): per display, layers bottom to top, each a VM scanout placed unscaled at
/// its destination with an opacity and an optional alpha mask, over black; and, for every
/// composed frame, a CRC check of each safety region against its source (AVPS 2.8.4).
///
/// Inputs: each VM's `GpuDevice` gets `sink(for: vm)` with `addSink`; the sink records which
/// scanout changed where and wakes the compositor's thread, and returns at once (it runs on
/// the device thread, which also serves the guest). Outputs: `outputs[name]`, one
/// `ScanoutFrame` per display, and the `DisplaySink`s added with `addOutput`.
///
/// One thread (`avp-compositor`) sleeps on an eventfd until something changed, then composes
/// the changed area of each display (plus its safety regions), at most `maxFramesPerSecond`
/// times a second per display; updates that arrive in between are merged into the next
/// frame. Pixels are read in place under each frame's lock: nothing copies whole frames.
///
/// Guests decide only pixel values; sizes come from the policy and the devices' validated
/// frames, and a frame whose size differs from its layer's is clipped, never trusted.
public final class Compositor: @unchecked Sendable {
    /// Each display's composed frame, by display name (the same frame object for the
    /// compositor's life; `setPolicy` may change its size).
    public let outputs: [String: ScanoutFrame]
    public let maxFramesPerSecond: Int

    private let logger: Logger
    private let wake: EventFD
    private let interval: UInt64
    private let inputs: Mutex<Inputs>
    private let work: [String: DisplayWork]
    private let displaySinks = Mutex<[DisplaySink]>([])
    private let stopped = Atomic<Bool>(false)
    /// Set once in `init`, joined once in `stop` (hence `@unchecked Sendable`).
    private var thread: OSThread?

    /// What device threads and the host change; each holder keeps the lock for moments only,
    /// and never takes another lock while holding it.
    private struct Inputs {
        var policies: [String: Installed] = [:]
        var frames: [ScanoutSource: ScanoutFrame] = [:]
        /// Per display, the area (display coordinates) to compose next.
        var dirty: [String: GpuRect] = [:]
        var lastComposed: [String: UInt64] = [:]
        /// The eventfd was signalled and the thread has not yet looked: no need to signal again.
        var wakePending = false
    }

    private struct Installed {
        var policy: DisplayPolicy
        var alphas: [Composition.Alpha]

        init(_ policy: DisplayPolicy) {
            self.policy = policy
            alphas = policy.layers.map { Composition.Alpha(opacity: $0.opacity, mask: $0.mask) }
        }
    }

    /// Per display; its lock orders compositions of that display (lock order: display, then
    /// output frame, then source frames; `Inputs` alone).
    private final class DisplayWork: Sendable {
        let state: Mutex<Counters>
        init(_ policy: DisplayPolicy) { state = Mutex(Counters(policy)) }
    }

    private struct Counters {
        var frames = 0
        var safety: [[CompositorStatistics.SafetyCount]] = []
        var samplers: [[LogSampler]] = []

        init(_ policy: DisplayPolicy) { reset(for: policy) }

        mutating func reset(for policy: DisplayPolicy) {
            safety = policy.layers.map { $0.safetyRegions.map { _ in CompositorStatistics.SafetyCount() } }
            samplers = policy.layers.map { $0.safetyRegions.map { _ in LogSampler(always: 4) } }
        }
    }

    /// Validates the policies (names unique), makes a black output per display and starts the
    /// thread. `maxFramesPerSecond` is kept within 1 to 1000.
    public init(displays: [DisplayPolicy], maxFramesPerSecond: Int = 60, logger: Logger = Logger(label: "avp.compositor")) throws {
        var names: Set<String> = []
        for display in displays {
            try display.validate()
            guard names.insert(display.name).inserted else { throw DisplayPolicyError.duplicateDisplay(display.name) }
        }
        self.maxFramesPerSecond = min(1000, max(1, maxFramesPerSecond))
        interval = 1_000_000_000 / UInt64(self.maxFramesPerSecond)
        self.logger = logger
        outputs = Dictionary(uniqueKeysWithValues: displays.map { d in
            let frame = ScanoutFrame()
            frame.reshape(width: d.width, height: d.height)
            return (d.name, frame)
        })
        work = Dictionary(uniqueKeysWithValues: displays.map { ($0.name, DisplayWork($0)) })
        var initial = Inputs()
        for d in displays {
            initial.policies[d.name] = Installed(d)
            initial.dirty[d.name] = .whole(width: d.width, height: d.height)
        }
        inputs = Mutex(initial)
        wake = try EventFD()
        wake.signal()
        thread = try OSThread(name: "avp-compositor") { [weak self, wake] in
            while true {
                // `self` is held only while composing, so dropping the compositor ends the thread.
                let timeout: Int32? = {
                    guard let self, !self.stopped.load(ordering: .acquiring) else { return nil }
                    return self.composeDue()
                }()
                guard let timeout else { return }
                _ = wake.wait(timeoutMilliseconds: timeout)
            }
        }
    }

    deinit {
        stopped.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Stops the thread (after the composition under way, if any). Sinks may still record.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.signal()
        thread?.join()
    }

    /// The sink a VM's `GpuDevice` adds (`addSink`) so that its scanouts reach the layers
    /// whose source names `vm`. Its calls return at once: they record and wake the thread.
    public func sink(for vm: String) -> ScanoutSink { Input(vm: vm, compositor: self) }

    /// Adds a sink told about every composed frame (see `DisplaySink`).
    public func addOutput(_ sink: DisplaySink) { displaySinks.withLock { $0.append(sink) } }

    public func removeOutput(_ sink: DisplaySink) { displaySinks.withLock { $0.removeAll { $0 === sink } } }

    /// Replaces a display's size and layers (host only: the platform's configuration or its
    /// operator, never a guest). Validated first; the next frame uses it, and the region
    /// counters of that display start over.
    public func setPolicy(_ display: DisplayPolicy) throws(DisplayPolicyError) {
        try display.validate()
        guard let work = work[display.name], let output = outputs[display.name] else { throw .unknownDisplay(display.name) }
        let installed = Installed(display)
        work.state.withLock { counters in
            counters.reset(for: display)
            output.reshape(width: display.width, height: display.height)
            inputs.withLock { s in
                s.policies[display.name] = installed
                s.dirty[display.name] = .whole(width: display.width, height: display.height)
            }
        }
        wake.signal()
    }

    /// The policy in force for `display`.
    public func policy(_ display: String) -> DisplayPolicy? { inputs.withLock { $0.policies[display]?.policy } }

    /// Composes the whole of `display` now, on the calling thread (tests, benchmarks, a first
    /// frame); returns the output's generation, or nil for an unknown display.
    @discardableResult
    public func compose(_ display: String) -> UInt64? {
        compose(display, area: nil)
    }

    public var statistics: CompositorStatistics {
        var statistics = CompositorStatistics()
        for (name, work) in work {
            work.state.withLock { c in
                statistics.framesComposed[name] = c.frames
                for (l, regions) in c.safety.enumerated() {
                    for (r, count) in regions.enumerated() { statistics.safety[.init(display: name, layer: l, region: r)] = count }
                }
            }
        }
        return statistics
    }

    // MARK: The thread

    /// Composes every display that changed and whose frame interval has passed; returns how
    /// long to sleep (milliseconds; -1: until woken).
    private func composeDue() -> Int32 {
        let now = MonotonicClock.nanoseconds()
        var due: [(String, GpuRect)] = []
        var next: UInt64?
        inputs.withLock { s in
            s.wakePending = false
            for (name, area) in s.dirty {
                if let last = s.lastComposed[name], now &- last < interval {
                    next = min(next ?? .max, last &+ interval)
                    continue
                }
                due.append((name, area))
                s.lastComposed[name] = now
            }
            for (name, _) in due { s.dirty[name] = nil }
        }
        for (name, area) in due { compose(name, area: area) }
        guard let next else { return -1 }
        let now2 = MonotonicClock.nanoseconds()
        return next <= now2 ? 0 : Int32(clamping: (next - now2 + 999_999) / 1_000_000)
    }

    /// Composes `area` of `display` (nil: all of it) and its safety regions, counts the
    /// checks, and tells the display sinks.
    @discardableResult
    private func compose(_ display: String, area: GpuRect?) -> UInt64? {
        guard let work = work[display], let output = outputs[display] else { return nil }
        let generation: UInt64? = work.state.withLock { counters in
            let taken: (Installed, [ScanoutFrame?])? = inputs.withLock { s in
                guard let installed = s.policies[display] else { return nil }
                if area == nil { s.dirty[display] = nil }
                return (installed, installed.policy.layers.map { s.frames[$0.source] })
            }
            guard let (installed, frames) = taken else { return nil }
            let policy = installed.policy
            let whole = GpuRect.whole(width: policy.width, height: policy.height)
            let safety = policy.layers.flatMap { layer in
                layer.safetyRegions.map { r in
                    GpuRect(x: layer.destination.x + r.x, y: layer.destination.y + r.y, width: r.width, height: r.height)
                }
            }
            let rects = Composition.disjoint(([area ?? whole] + safety).compactMap { $0.intersection(whole) })
            let layers = policy.layers.indices.map { i in
                Composition.Layer(policy: policy.layers[i], alpha: installed.alphas[i], frame: frames[i])
            }
            let (generation, crcs) = Composition.draw(layers, in: rects, into: output)
            counters.frames += 1
            check(policy, crcs, &counters)
            return generation
        }
        guard let generation else { return nil }
        for sink in displaySinks.withLock({ $0 }) { sink.displayComposed(display, frame: output, generation: generation) }
        return generation
    }

    /// Counts each safety region's check, and a mismatch when the output's CRC there is not
    /// the source's (covered by a higher layer, translucent or masked there, source missing).
    /// Logged the first times and then at powers of two per region, never once per frame.
    private func check(_ policy: DisplayPolicy, _ crcs: Composition.SafetyCRCs, _ counters: inout Counters) {
        if counters.safety.map(\.count) != policy.layers.map(\.safetyRegions.count) { counters.reset(for: policy) }
        for (l, layer) in policy.layers.enumerated() {
            for (r, region) in layer.safetyRegions.enumerated() {
                counters.safety[l][r].checks += 1
                let output = crcs.output[l].indices.contains(r) ? crcs.output[l][r] : nil
                let source = crcs.source[l].indices.contains(r) ? crcs.source[l][r] : nil
                if let output, let source, output == source { continue }
                counters.safety[l][r].mismatches += 1
                guard counters.samplers[l][r].record() else { continue }
                let why = if let output, let source {
                    "the display shows other pixels (CRC \(hex(output)), source \(hex(source)))"
                } else {
                    "the source \(layer.source) does not cover it (not shown yet, disabled or smaller than the layer)"
                }
                let count = counters.safety[l][r]
                logger.warning("display '\(policy.name)' layer \(l) (\(layer.source)) safety region \(r) \(region): \(why); \(count.mismatches) of \(count.checks) checks failed")
            }
        }
    }

    private func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    // MARK: Inputs

    /// Marks where `source` changed (`rect` in its scanout's coordinates; nil: all of it) on
    /// every layer that shows it, and wakes the thread if it is not already due to look.
    fileprivate func record(_ source: ScanoutSource, frame: ScanoutFrame, rect: GpuRect?) {
        let signal = inputs.withLock { s -> Bool in
            s.frames[source] = frame
            var marked = false
            for (name, installed) in s.policies {
                for layer in installed.policy.layers where layer.source == source {
                    let d = layer.destination
                    var area = d
                    if let rect {
                        let moved = GpuRect(x: UInt32(clamping: UInt64(d.x) + UInt64(rect.x)), y: UInt32(clamping: UInt64(d.y) + UInt64(rect.y)),
                                            width: rect.width, height: rect.height)
                        guard let inside = moved.intersection(d) else { continue }
                        area = inside
                    }
                    s.dirty[name] = s.dirty[name].map { $0.union(area) } ?? area
                    marked = true
                }
            }
            guard marked, !s.wakePending else { return false }
            s.wakePending = true
            return true
        }
        if signal { wake.signal() }
    }

    /// The `ScanoutSink` of one VM. The cursor is not composed: a display sink with a cursor
    /// plane would take it from here later.
    private final class Input: ScanoutSink, Sendable {
        let vm: String
        let compositor: Compositor

        init(vm: String, compositor: Compositor) {
            self.vm = vm
            self.compositor = compositor
        }

        func scanoutChanged(_ index: Int, frame: ScanoutFrame) {
            compositor.record(ScanoutSource(vm: vm, scanout: index), frame: frame, rect: nil)
        }

        func scanoutUpdated(_ index: Int, rect: GpuRect, frame: ScanoutFrame) {
            compositor.record(ScanoutSource(vm: vm, scanout: index), frame: frame, rect: rect)
        }

        func cursorChanged(_ index: Int, image: CursorImage?) {}
        func cursorMoved(_ index: Int, x: UInt32, y: UInt32, visible: Bool) {}
    }
}
