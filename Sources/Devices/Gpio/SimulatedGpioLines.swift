import Synchronization

/// Lines held in memory (tests, demos, a bench without hardware): each has the level the host
/// applies (`setHostLevel`, from `avp gpio set`) and, while a guest drives it, the guest's
/// output, which wins. Nothing changes asynchronously, so `start` reports nothing.
public final class SimulatedGpioLines: GpioLineProvider, @unchecked Sendable {
    public let lineNames: [String]
    public let source = "simulated"
    public let isSimulated = true

    private struct Line {
        var hostLevel = false
        var output: Bool?
    }

    private let lines: Mutex<[Line]>

    /// `initial`: host levels by name (others start low).
    public init(names: [String], initial: [String: Bool] = [:]) {
        lineNames = names
        lines = Mutex(names.map { Line(hostLevel: initial[$0] ?? false) })
    }

    public func configure(line: Int, _ mode: GpioLineMode) throws(GpioProviderError) {
        try lines.withLock { (l) throws(GpioProviderError) in
            guard l.indices.contains(line) else { throw .noSuchLine(line) }
            switch mode {
            case .input: l[line].output = nil
            case let .output(value): l[line].output = value
            }
        }
    }

    public func value(of line: Int) throws(GpioProviderError) -> Bool {
        try lines.withLock { (l) throws(GpioProviderError) in
            guard l.indices.contains(line) else { throw .noSuchLine(line) }
            return l[line].output ?? l[line].hostLevel
        }
    }

    public func setHostLevel(line: Int, _ value: Bool) throws(GpioProviderError) {
        try lines.withLock { (l) throws(GpioProviderError) in
            guard l.indices.contains(line) else { throw .noSuchLine(line) }
            l[line].hostLevel = value
        }
    }

    public func start(reporting: @escaping @Sendable (Int, Bool) -> Void) throws(GpioProviderError) {}
    public func stop() {}
}
