import Synchronization
import SystemCalls

/// The simulated vehicle: its signals from a `ScmiSignalTrace` played in a loop since the
/// server started, plus constant signals, and the values the host sets at runtime (`avp scmi
/// set`), which hold until it clears them. Every method may be called from any thread.
public final class ScmiSignals: Sendable {
    /// Signals one server may have (trace and constants together).
    public static let maxSignals = 128

    public let trace: ScmiSignalTrace?
    public let names: [String]
    private let constants: [String: Double]
    private let start: UInt64
    private let overrides = Mutex<[String: Double]>([:])

    public init(trace: ScmiSignalTrace?, constants: [String: Double] = [:]) throws(ScmiTraceError) {
        var names = trace?.signals ?? []
        for name in constants.keys.sorted() {
            guard ScmiSignalTrace.isValidName(name) else { throw .badName(name) }
            guard !names.contains(name) else { throw .duplicate(name) }
            names.append(name)
        }
        guard names.count <= Self.maxSignals else { throw .tooManySignals(names.count) }
        self.trace = trace
        self.names = names
        self.constants = constants
        start = MonotonicClock.nanoseconds()
    }

    /// Seconds since playback started.
    public var elapsed: Double { Double(MonotonicClock.nanoseconds() &- start) / 1e9 }

    public func value(of name: String) throws(ScmiSourceError) -> Double {
        if let set = overrides.withLock({ $0[name] }) { return set }
        if let trace, let index = trace.signals.firstIndex(of: name) { return trace.value(of: index, at: elapsed) }
        if let c = constants[name] { return c }
        throw .unknownSignal(name)
    }

    /// The host's value for `name` until `clear`.
    public func set(_ name: String, to value: Double) throws(ScmiSourceError) {
        guard names.contains(name) else { throw .unknownSignal(name) }
        guard value.isFinite else { throw .notFinite(origin: "signal \(name)") }
        overrides.withLock { $0[name] = value }
    }

    /// Back to the trace's (or the constant's) value.
    public func clear(_ name: String) throws(ScmiSourceError) {
        guard names.contains(name) else { throw .unknownSignal(name) }
        _ = overrides.withLock { $0.removeValue(forKey: name) }
    }

    public func isOverridden(_ name: String) -> Bool { overrides.withLock { $0[name] != nil } }
}

/// A sensor whose value is one of the simulated vehicle's signals.
public final class ScmiSignalSensor: ScmiSensorSource {
    public let signals: ScmiSignals
    public let signal: String

    public init(signals: ScmiSignals, signal: String) throws(ScmiSourceError) {
        guard signals.names.contains(signal) else { throw .unknownSignal(signal) }
        self.signals = signals
        self.signal = signal
    }

    public var origin: String { "signal \(signal)" }
    public func read() throws(ScmiSourceError) -> Double { try signals.value(of: signal) }
}
