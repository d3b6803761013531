import Logging
import Platform
import VhostUser

/// The life of every `avp serve` process: termination signals blocked before any worker
/// thread starts, logging set up, the servers started, then on SIGINT/SIGTERM/SIGHUP a
/// bounded stop (`StopDeadline`: exit a second later whatever hangs) and a last word.
struct ServeLifecycle {
    /// What a started server leaves to stop: its vhost-user servers, then anything else.
    struct Running {
        var servers: [VhostUserServer]
        var afterStop: () -> Void = {}
    }

    /// Runs `start`, waits for a termination signal, stops what it started.
    static func run(_ label: String, logging: LoggingOptions, start: (Logger) throws -> Running) throws {
        let signals = TerminationSignals()
        _ = try logging.bootstrap()
        let logger = Logger(label: "avp.\(label)")
        let running = try start(logger)
        for server in running.servers { try server.start() }
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        StopDeadline.arm(what: "avp serve \(label)")
        VhostUserServer.stopAll(running.servers)
        running.afterStop()
    }
}
