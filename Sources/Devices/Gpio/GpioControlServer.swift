import Logging
import SystemCalls

/// A GPIO server's control socket (`avp gpio set|get|watch`): a `LineControlServer` of
/// `GpioControlRequest` lines over the server's block. `set` changes a simulated line's host
/// level, which reaches every VM that sees the line as its interrupt.
public final class GpioControlServer: @unchecked Sendable {
    private let block: GpioBlock
    private let logger: Logger
    /// Set once in `init`.
    private var server: LineControlServer?

    public init(path: String, block: GpioBlock, logger: Logger) throws {
        self.block = block
        self.logger = logger
        server = try LineControlServer(path: path, threadName: "avp-gpio-control", maxLine: GpioControlRequest.maxLine,
                                       tooLong: GpioControlResponse.refused(reason: GpioControlError.lineTooLong.description).line) {
            [weak self] line in self?.answer(line).line ?? []
        }
    }

    public func stop() { server?.stop() }

    /// Carries out one request line.
    public func answer(_ line: [UInt8]) -> GpioControlResponse {
        do {
            switch try GpioControlRequest(line: line) {
            case .list:
                return .lines(block.status)
            case let .get(name):
                return .lines([block.status[try index(name)]])
            case let .set(name, value):
                let line = try index(name)
                try block.setHostLevel(line: line, value)
                logger.info("gpio: line '\(name)' set to \(value ? 1 : 0) by the host's control socket")
                return .lines([block.status[line]])
            case let .changes(after):
                return .changes(block.changes(after: after))
            }
        } catch {
            return .refused(reason: "\(error)")
        }
    }

    private func index(_ name: String) throws(GpioControlError) -> Int {
        guard let index = block.index(of: name) else { throw .unknownLine(name, known: block.lineNames) }
        return index
    }
}
