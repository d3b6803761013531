import Logging
import Virtio
import Synchronization

/// The platform side of one SCMI server, shared by every VM it serves: the host's sensors and
/// the physical performance, power and reset domains, with the arbitration between VMs that
/// map to one physical domain (DEN0056 leaves it to the platform):
/// - performance: each VM's request is clamped to its own limits (LIMITS_SET); the domain runs
///   at the highest request, capped by the host's limit (`setLimit`, `avp scmi limit`) and
///   rounded down to a declared level. Every VM's LEVEL_GET reads that effective level.
/// - power: the domain is on while any VM that sees it wants it on.
/// - reset: each RESET is counted and logged, and handed to `resetHook` if one is set.
///
/// Thread safety: every method may be called from any thread (the VMs' server threads and the
/// control socket's); one lock orders the changes.
public final class ScmiHost: @unchecked Sendable {
    public let topology: ScmiHostTopology
    private let logger: Logger
    /// Called (outside the lock) after each reset: domain name, VM, autonomous (true) or assert/deassert.
    public let resetHook: (@Sendable (String, String, ScmiResetKind) -> Void)?

    private struct VMRequest {
        var level: UInt32?
        var minimum: UInt32
        var maximum: UInt32
    }

    private struct State {
        var requests: [[String: VMRequest]]
        var limits: [UInt32?]
        var powerWants: [[String: Bool]]
        var resets: [Int]
        var sensorErrors = LogSampler()
    }

    private let state: Mutex<State>

    public init(topology: ScmiHostTopology, logger: Logger, resetHook: (@Sendable (String, String, ScmiResetKind) -> Void)? = nil) {
        self.topology = topology
        self.logger = logger
        self.resetHook = resetHook
        state = Mutex(State(requests: topology.performance.map { _ in [:] }, limits: topology.performance.map(\.limit),
                            powerWants: topology.power.map { _ in [:] }, resets: topology.reset.map { _ in 0 }))
    }

    // MARK: Sensors

    /// The sensor's value in its unit (a three-axis sensor's x), or nil if its source failed.
    public func read(sensor index: Int) -> Double? { readAll(sensor: index)?.first }

    /// Each of the sensor's values (one, or x, y and z), or nil if a source failed (logged, rate-limited).
    public func readAll(sensor index: Int) -> [Double]? {
        guard topology.sensors.indices.contains(index) else { return nil }
        let sensor = topology.sensors[index]
        var values: [Double] = []
        for source in sensor.sources {
            do { values.append(try source.read()) } catch {
                if state.withLock({ $0.sensorErrors.record() }) { logger.error("scmi: sensor '\(sensor.name)': \(error)") }
                return nil
            }
        }
        return values
    }

    // MARK: Performance

    /// The domain's level now: the highest request, capped by the host's limit.
    public func effectiveLevel(domain index: Int) -> UInt32 {
        state.withLock { effective(index, $0) }
    }

    private func effective(_ index: Int, _ s: State) -> UInt32 {
        let domain = topology.performance[index]
        let requested = s.requests[index].values.compactMap { r in r.level.map { min(max($0, r.minimum), r.maximum) } }.max()
            ?? domain.levels.last!
        let capped = s.limits[index].map { min(requested, $0) } ?? requested
        return domain.level(atMost: capped)
    }

    /// `vm`'s LEVEL_SET: its request, which the arbitration clamps to its limits.
    public func requestLevel(domain index: Int, vm: String, level: UInt32) {
        let (before, after) = state.withLock { s -> (UInt32, UInt32) in
            let before = effective(index, s)
            s.requests[index][vm, default: defaultRequest(index)].level = level
            return (before, effective(index, s))
        }
        if before != after { logger.info("scmi: performance domain '\(topology.performance[index].name)': level \(after) (VM '\(vm)' asked \(level))") }
    }

    /// `vm`'s own limits (LIMITS_SET/GET).
    public func setVMLimits(domain index: Int, vm: String, minimum: UInt32, maximum: UInt32) {
        state.withLock { s in
            s.requests[index][vm, default: defaultRequest(index)].minimum = minimum
            s.requests[index][vm, default: defaultRequest(index)].maximum = maximum
        }
    }

    public func vmLimits(domain index: Int, vm: String) -> (minimum: UInt32, maximum: UInt32) {
        state.withLock { s in
            let r = s.requests[index][vm] ?? defaultRequest(index)
            return (r.minimum, r.maximum)
        }
    }

    private func defaultRequest(_ index: Int) -> VMRequest {
        VMRequest(level: nil, minimum: topology.performance[index].levels.first!, maximum: topology.performance[index].levels.last!)
    }

    /// The host's cap for the domain (nil: none); the effective level follows at once.
    public func setLimit(domain index: Int, _ limit: UInt32?) {
        let after = state.withLock { s -> UInt32 in
            s.limits[index] = limit
            return effective(index, s)
        }
        logger.info("scmi: performance domain '\(topology.performance[index].name)': host limit \(limit.map(String.init) ?? "none"), level \(after)")
    }

    public func limit(domain index: Int) -> UInt32? { state.withLock { $0.limits[index] } }

    /// Each VM's request (nil: none yet), for the control socket.
    public func requests(domain index: Int) -> [String: UInt32] {
        state.withLock { s in s.requests[index].compactMapValues { $0.level } }
    }

    /// Forgets `vm`'s requests and wants (its driver reset or the VM went away).
    public func forget(vm: String) {
        state.withLock { s in
            for i in s.requests.indices { s.requests[i][vm] = nil }
            for i in s.powerWants.indices { s.powerWants[i][vm] = nil }
        }
    }

    // MARK: Power

    /// `vm` wants the domain on or off; returns the physical state after.
    @discardableResult
    public func setPower(domain index: Int, vm: String, on: Bool) -> Bool {
        let (before, after) = state.withLock { s -> (Bool, Bool) in
            let before = powered(index, s)
            s.powerWants[index][vm] = on
            return (before, powered(index, s))
        }
        if before != after { logger.info("scmi: power domain '\(topology.power[index].name)' \(after ? "on" : "off") (VM '\(vm)')") }
        return after
    }

    /// On while any VM wants it on; a VM that has not said wants the initial state.
    public func isPowered(domain index: Int) -> Bool { state.withLock { powered(index, $0) } }

    private func powered(_ index: Int, _ s: State) -> Bool {
        let wants = s.powerWants[index]
        if wants.values.contains(true) { return true }
        // VMs that have not said anything keep the initial state; with none having said, that is it.
        let all = viewers
        let seen = all.indices.contains(index) ? all[index] : []
        return wants.isEmpty || seen.contains { wants[$0] == nil } ? topology.power[index].initiallyOn : false
    }

    /// VMs that see each power domain (set while devices are made, before any request).
    private let viewersState = Mutex<[[String]]>([])
    private var viewers: [[String]] { viewersState.withLock { $0 } }

    /// Records that `vm` sees these power domains (its initial want counts for them).
    public func register(vm: String, powerDomains: [Int]) {
        viewersState.withLock { v in
            if v.isEmpty { v = topology.power.map { _ in [] } }
            for i in powerDomains where v.indices.contains(i) && !v[i].contains(vm) { v[i].append(vm) }
        }
    }

    // MARK: Reset

    public func reset(domain index: Int, vm: String, kind: ScmiResetKind) {
        let count = state.withLock { s -> Int in
            s.resets[index] += 1
            return s.resets[index]
        }
        logger.info("scmi: reset domain '\(topology.reset[index])': \(kind) by VM '\(vm)' (\(count) so far)")
        resetHook?(topology.reset[index], vm, kind)
    }

    public func resetCount(domain index: Int) -> Int { state.withLock { $0.resets[index] } }
}

/// DEN0056 §4.8.2.4 RESET's flags: an autonomous reset, or an explicit assert or deassert.
public enum ScmiResetKind: String, Sendable, Equatable, Codable {
    case autonomous, assert, deassert
}
