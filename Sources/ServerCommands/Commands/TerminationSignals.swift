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

    /// Blocks until one of the signals arrives or `milliseconds` pass; returns its number, or nil.
    public func wait(milliseconds: Int) -> Int32? {
        var s = set
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        while true {
            let signal = sigtimedwait(&s, nil, &timeout)
            if signal > 0 { return signal }
            if errno != EINTR { return nil }
        }
    }
}
