import ArgumentParser
import Logging

/// `--log-level`, shared by every command that logs.
public struct LoggingOptions: ParsableArguments {
    public init() {}

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel: String = "info"

    public func bootstrap() throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return level
    }
}
