import Logging
import SystemCalls
import VhostUser

/// The life of every `avp serve` process: termination signals blocked before any worker
/// thread starts, the sandbox's namespaces (a fork, so before any thread), logging set up, the
/// servers made (they open what they need), the sandbox closed around them, the servers started,
/// then on SIGINT/SIGTERM/SIGHUP a bounded stop (`StopDeadline`: exit a second later whatever
/// hangs) and a last word.
struct ServeLifecycle {
    /// What a started server leaves to stop: its vhost-user servers, then anything else.
    struct Running {
        var servers: [VhostUserServer]
        var afterStop: () -> Void = {}
    }

    /// Runs `start`, confined by `sandbox` once it returns (nil: `--sandbox none`, or a server
    /// that confines itself), waits for a termination signal, stops what it started.
    static func run(_ label: String, logging: LoggingOptions, sandbox: SandboxProfile? = nil, start: (Logger) throws -> Running) throws {
        let signals = TerminationSignals()
        if let sandbox { try ServerSandbox.isolate(sandbox) }
        _ = try logging.bootstrap()
        let logger = Logger(label: "avp.\(label)")
        let running = try start(logger)
        if let sandbox {
            try ServerSandbox.confine(sandbox)
            logger.info("\(label): sandboxed: \(sandbox.allowedSyscallCount) system calls allowed, directories \(sandbox.directories.isEmpty ? "none" : sandbox.directories.map(\.description).joined(separator: ", "))\(sandbox.keepsHostNetwork ? ", the host's network namespace" : "")")
        }
        for server in running.servers { try server.start() }
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        StopDeadline.arm(what: "avp serve \(label)")
        VhostUserServer.stopAll(running.servers)
        running.afterStop()
    }
}
