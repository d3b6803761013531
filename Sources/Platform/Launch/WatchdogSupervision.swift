import Logging

/// One VM's watchdog ({AVPS-v2.0-35}) as the supervisor sees it: the QMP connection to the
/// VM's QEMU, the VM's policy, and how many times the watchdog expired since `avp up`.
/// Polled from the supervisor's loop on its own thread, never blocking (`QmpConnection`).
final class WatchdogSupervision {
    let vm: String
    let policy: Platform.Watchdog
    /// Expiries QEMU reported (the WATCHDOG event), over every run of the VM.
    private(set) var expiries = 0
    private let connection: QmpConnection
    private let logger: Logger
    /// QMP problems logged for the current QEMU; more are only counted (QEMU's lines carry guest data).
    private var problemsLogged = 0
    private static let problemsLoggedPerRun = 5

    init(vm: String, policy: Platform.Watchdog, socket: String, logger: Logger) {
        self.vm = vm
        self.policy = policy
        connection = QmpConnection(path: socket)
        self.logger = logger
    }

    /// A new QEMU of this VM starts (or the old one is gone): connect afresh.
    func vmStarted() {
        connection.reset()
        problemsLogged = 0
    }

    /// Reads what QEMU reported since the last tick. Returns what the supervisor must do to the
    /// VM: `.restart` or `.poweroff` when the watchdog expired under that policy, nil otherwise
    /// (under `notify` the expiry is logged and counted only).
    func poll() -> Platform.Watchdog.Action? {
        var verdict: Platform.Watchdog.Action?
        for notice in connection.poll() {
            switch notice {
            case let .ready(qemu):
                logger.debug("VM \(vm): watchdog monitor connected (QMP, QEMU \(qemu))")
            case let .event(name, data) where name == "WATCHDOG":
                expiries += 1
                let what: String
                switch policy.action {
                case .restart: what = "restarting it"
                case .poweroff: what = "powering it off"
                case .notify: what = "it runs on"
                }
                logger.warning("VM \(vm): watchdog expired (QEMU action \(data["action"] ?? "?"), \(expiries) so far); \(what) (watchdog action \(policy.action.rawValue))")
                if policy.action != .notify, verdict == nil { verdict = policy.action }
            case .event:
                break
            case let .problem(text):
                problemsLogged += 1
                if problemsLogged <= Self.problemsLoggedPerRun { logger.warning("VM \(vm): \(text)") }
            case .closed:
                break
            }
        }
        return verdict
    }
}
