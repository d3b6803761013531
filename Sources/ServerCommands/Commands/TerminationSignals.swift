#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP, blocked in every thread and received synchronously:
/// create before starting worker threads (they inherit the mask), then `wait()`.
public struct TerminationSignals: Sendable {
    private let set: sigset_t

    public init() {
        var s = sigset_t()
        sigemptyset(&s)
        sigaddset(&s, SIGINT)
        sigaddset(&s, SIGTERM)
        sigaddset(&s, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &s, nil)
        set = s
    }

    /// Blocks until one of the signals arrives; returns its number.
    public func wait() -> Int32 {
        var s = set
        var signal: Int32 = 0
        sigwait(&s, &signal)
        return signal
    }
}
