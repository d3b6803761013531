import Logging
import Synchronization
import SystemCalls
import Virtio

/// One physical (or simulated) GPIO block served to several VMs: its provider's lines, which
/// VM drives which line, and who hears about changes. A line's level is the same for every VM
/// that sees it; a change — the host's (`setHostLevel`, a chip's edge) or a guest's output —
/// goes to every listener (each VM's `GpioDevice`, which raises its interrupts) and into a
/// short history the control socket's `watch` reads.
///
/// Thread safety: every method may be called from any thread; one lock orders the changes.
public final class GpioBlock: @unchecked Sendable {
    /// Changes the history keeps for `changes(after:)`.
    public static let historyLimit = 256

    public let provider: any GpioLineProvider
    public var lineNames: [String] { provider.lineNames }
    private let logger: Logger

    private struct Listener {
        weak var listener: (any GpioLineListener)?
    }

    private struct State {
        var values: [Bool]
        /// The VM driving each line as an output, if any.
        var drivers: [String?]
        var listeners: [ObjectIdentifier: Listener] = [:]
        var history: [GpioLineChange] = []
        var sequence: UInt64 = 0
        var hostErrors = LogSampler()
    }

    private let state: Mutex<State>

    public init(provider: any GpioLineProvider, logger: Logger) throws(GpioProviderError) {
        self.provider = provider
        self.logger = logger
        var values: [Bool] = []
        for line in provider.lineNames.indices { values.append(try provider.value(of: line)) }
        state = Mutex(State(values: values, drivers: Array(repeating: nil, count: values.count)))
        // Unowned: the provider's reports stop (`stop`, at the latest in deinit) before the block goes.
        try provider.start { [unowned self] line, value in changed(line, to: value, by: nil) }
    }

    deinit { provider.stop() }

    /// Stops the provider's reports (a chip's event thread); the lines stay as they are.
    public func stop() { provider.stop() }

    /// The index of the line named `name`.
    public func index(of name: String) -> Int? { provider.lineNames.firstIndex(of: name) }

    /// The line's level now: read from the provider (a chip's input may have changed before its
    /// edge event arrived), recorded as a change if it differs from what the block last saw.
    public func value(of line: Int) -> Bool {
        state.withLock { s in
            guard s.values.indices.contains(line) else { return false }
            refresh(line, in: &s, origin: "host")
            return s.values[line]
        }
    }

    /// Each line's name, level and driving VM.
    public var status: [GpioLineStatus] {
        state.withLock { s in
            provider.lineNames.enumerated().map { GpioLineStatus(name: $0.element, value: s.values[$0.offset], drivenBy: s.drivers[$0.offset]) }
        }
    }

    // MARK: Listeners

    func addListener(_ listener: any GpioLineListener) {
        state.withLock { $0.listeners[ObjectIdentifier(listener)] = Listener(listener: listener) }
    }

    func removeListener(_ listener: any GpioLineListener) {
        _ = state.withLock { $0.listeners.removeValue(forKey: ObjectIdentifier(listener)) }
    }

    // MARK: Changes

    /// The host's level for `line` (simulated lines): the level VMs sense while no VM drives it.
    public func setHostLevel(line: Int, _ value: Bool) throws(GpioProviderError) {
        try state.withLock { (s) throws(GpioProviderError) in
            guard s.values.indices.contains(line) else { throw .noSuchLine(line) }
            try provider.setHostLevel(line: line, value)
            refresh(line, in: &s, origin: "host")
        }
    }

    /// `vm` makes `line` an output driving a value, or an input (it stops driving it). A line
    /// another VM drives is refused: the platform gives each line one owner.
    func drive(line: Int, _ mode: GpioLineMode, vm: String) throws(GpioRequestError) {
        try state.withLock { (s) throws(GpioRequestError) in
            guard s.values.indices.contains(line) else { throw .host("no line \(line)") }
            if let other = s.drivers[line], other != vm { throw .host("line '\(provider.lineNames[line])' is driven by VM '\(other)'") }
            do { try provider.configure(line: line, mode) } catch { throw .host("\(error)") }
            if case .output = mode { s.drivers[line] = vm } else { s.drivers[line] = nil }
            refresh(line, in: &s, origin: "vm \(vm)")
        }
    }

    /// A change the provider reported (a chip's edge): `value` is the line's new level.
    private func changed(_ line: Int, to value: Bool, by origin: String?) {
        state.withLock { s in
            guard s.values.indices.contains(line), s.values[line] != value else { return }
            record(line, value, in: &s, origin: origin ?? "host")
        }
    }

    /// Reads the line back after an operation and records a change.
    private func refresh(_ line: Int, in s: inout State, origin: String) {
        let now: Bool
        do { now = try provider.value(of: line) } catch {
            if s.hostErrors.record() { logger.error("gpio: reading line '\(provider.lineNames[line])' failed: \(error)") }
            return
        }
        guard now != s.values[line] else { return }
        record(line, now, in: &s, origin: origin)
    }

    private func record(_ line: Int, _ value: Bool, in s: inout State, origin: String) {
        s.values[line] = value
        s.sequence += 1
        s.history.append(GpioLineChange(sequence: s.sequence, line: provider.lineNames[line], value: value, origin: origin,
                                        nanoseconds: MonotonicClock.nanoseconds()))
        if s.history.count > Self.historyLimit { s.history.removeFirst(s.history.count - Self.historyLimit) }
        for (key, entry) in s.listeners {
            guard let listener = entry.listener else {
                s.listeners.removeValue(forKey: key)
                continue
            }
            listener.lineChanged(line, to: value)
        }
    }

    /// Changes after `sequence`, oldest first (at most the history's), the sequence to ask
    /// after next, and how many were lost from the history in between.
    public func changes(after sequence: UInt64) -> GpioChanges {
        state.withLock { s in
            let kept = s.history.filter { $0.sequence > sequence }
            let oldest = s.history.first?.sequence ?? s.sequence + 1
            let lost = sequence < UInt64.max && sequence + 1 < oldest ? Int(clamping: oldest - sequence - 1) : 0
            return GpioChanges(changes: kept, next: s.sequence, lost: lost)
        }
    }
}

/// Hears a block's changes: called with the block's lock held, so it only records and wakes.
protocol GpioLineListener: AnyObject, Sendable {
    func lineChanged(_ line: Int, to value: Bool)
}
