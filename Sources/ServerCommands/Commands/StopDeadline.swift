#if canImport(Glibc)
import Glibc
#endif
import SystemCalls

/// A bound on how long a device server may take to stop after SIGTERM. Stopping normally
/// takes milliseconds (nothing a front end sends can block a server thread), but a device
/// may wait for host I/O in flight — a flush of a large page cache can take seconds. A
/// supervisor, a service manager or a user pressing Ctrl-C expects the process gone within
/// a second: past the deadline it exits at once, as a crash would, which every device
/// survives (VIRTIO's contract: only completed requests are promised).
public enum StopDeadline {
    /// Starts the clock; if the process is still running `seconds` later, it says so and exits with status 1.
    public static func arm(seconds: Double = 1.0, what: String) {
        _ = try? OSThread(name: "avp-stop-deadline") {
            MonotonicClock.sleep(milliseconds: Int(seconds * 1000))
            let line = "\(what) did not stop within \(seconds) s; exiting\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            _exit(1)
        }
    }
}
