import Logging
import SystemCalls

/// An SCMI server's control socket (`avp scmi status|set|clear|limit`): a `LineControlServer` of
/// `ScmiControlRequest` lines over the server's host state. `set` overrides a simulated signal
/// (every sensor reading it follows at its next reading or update); `limit` caps a performance
/// domain for every VM that maps to it.
public final class ScmiControlServer: @unchecked Sendable {
    private let host: ScmiHost
    private let signals: ScmiSignals?
    private let logger: Logger
    /// Set once in `init`.
    private var server: LineControlServer?

    public init(path: String, host: ScmiHost, signals: ScmiSignals?, logger: Logger) throws {
        self.host = host
        self.signals = signals
        self.logger = logger
        server = try LineControlServer(path: path, threadName: "avp-scmi-control", maxLine: ScmiControlRequest.maxLine,
                                       tooLong: ScmiControlResponse.refused(reason: ScmiControlError.lineTooLong.description).line) {
            [weak self] line in self?.answer(line).line ?? []
        }
    }

    public func stop() { server?.stop() }

    /// Carries out one request line.
    public func answer(_ line: [UInt8]) -> ScmiControlResponse {
        do {
            switch try ScmiControlRequest(line: line) {
            case .status:
                break
            case let .set(name, value):
                let signals = try known(name)
                try signals.set(name, to: value)
                logger.info("scmi: signal '\(name)' set to \(value) by the host's control socket")
            case let .clear(name):
                let signals = try known(name)
                try signals.clear(name)
                logger.info("scmi: signal '\(name)' back to its trace")
            case let .limit(name, level):
                let names = host.topology.performance.map(\.name)
                guard let index = names.firstIndex(of: name) else {
                    throw ScmiControlError.unknown(what: "performance domain", name: name, known: names)
                }
                host.setLimit(domain: index, level)
            }
            return .status(report)
        } catch {
            return .refused(reason: "\(error)")
        }
    }

    private func known(_ name: String) throws(ScmiControlError) -> ScmiSignals {
        guard let signals else { throw .noSignals }
        guard signals.names.contains(name) else { throw .unknown(what: "signal", name: name, known: signals.names) }
        return signals
    }

    /// The state of everything the server serves.
    public var report: ScmiStatusReport {
        let t = host.topology
        return ScmiStatusReport(
            sensors: t.sensors.enumerated().map { i, s in .init(name: s.name, unit: s.unit, origin: s.origin, value: host.read(sensor: i)) },
            signals: (signals?.names ?? []).map { n in .init(name: n, value: try? signals?.value(of: n), set: signals?.isOverridden(n) ?? false) },
            performance: t.performance.enumerated().map { i, d in
                .init(name: d.name, levels: d.levels, level: host.effectiveLevel(domain: i), limit: host.limit(domain: i), requests: host.requests(domain: i))
            },
            power: t.power.enumerated().map { i, d in .init(name: d.name, on: host.isPowered(domain: i), resets: nil) },
            reset: t.reset.enumerated().map { i, n in .init(name: n, on: nil, resets: host.resetCount(domain: i)) })
    }
}
