#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// A handle on one process (a pidfd): signals sent through it reach that process or
/// nobody, never a later process that was given the same pid.
public final class ProcessHandle: Sendable {
    public let pid: Int32
    private let descriptor: FileDescriptor

    /// A handle on the process that has `pid` now; throws ESRCH if there is none.
    public init(pid: Int32) throws(Errno) {
        self.pid = pid
        descriptor = FileDescriptor(adopting: try retryingSyscall("pidfd_open \(pid)") { avp_pidfd_open(pid) })
    }

    /// Sends `signal`; throws ESRCH if the process has exited.
    public func send(_ signal: Int32) throws(Errno) {
        _ = try retryingSyscall("pidfd_send_signal \(pid)") { avp_pidfd_send_signal(descriptor.rawValue, signal) }
    }
}
