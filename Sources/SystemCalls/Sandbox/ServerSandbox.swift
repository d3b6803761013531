#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// Confining a device server after it has what it needs from the host (issue 12 for `avp serve
/// fs`): its own PID, mount, network and IPC namespaces; a root that holds only the shared
/// directory, a /proc of its own and the directories of its vhost-user sockets; a reduced set of
/// capabilities with no_new_privs; a seccomp allow-list. The steps are C (CAVPShim sandbox.c)
/// because they depend on process state Swift does not show: `isolate` forks, so it must run
/// while the process has one thread.
public enum ServerSandbox {
    /// Where the shared directory is inside the sandbox.
    public static let sharePath = "/share"

    /// Where the directory of socket `index` (in `pivot`'s list) is inside the sandbox.
    public static func socketDirectory(_ index: Int) -> String { "/sockets/\(index)" }

    /// Capabilities by number (linux/capability.h).
    public enum Capability: Int, Sendable {
        case chown = 0, dacOverride = 1, dacReadSearch = 2, fowner = 3, fsetid = 4
    }

    /// A step that failed, with its errno.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let step: String
        public let code: Int32

        public var description: String {
            let reason = String(cString: strerror(code))
            let hint = code == EPERM ? " — the sandbox needs root (CAP_SYS_ADMIN); --sandbox none runs without it" : ""
            return "sandbox: \(step): \(reason)\(hint)"
        }
    }

    /// Forks into new namespaces; returns in the child (PID 1 of its namespace). The parent waits
    /// for it, passes termination signals on and exits with its status, never returning here.
    public static func isolate() throws(Failure) {
        let threads = threadCount
        guard threads == 1 else { throw Failure(step: "fork with \(threads) threads running (it must come first)", code: EBUSY) }
        try check { avp_sandbox_fork(&$0) }
    }

    /// Pivots into a root of its own with the share at `sharePath` and each of `socketDirectories`
    /// at `socketDirectory(i)`.
    public static func pivot(share: String, readOnly: Bool, socketDirectories: [String]) throws(Failure) {
        let copies = socketDirectories.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        let count = Int32(pointers.count)
        try check { step in
            pointers.withUnsafeMutableBufferPointer { avp_sandbox_pivot(share, readOnly ? 1 : 0, $0.baseAddress, count, &step) }
        }
    }

    /// Keeps `capabilities` only; sets no_new_privs.
    public static func dropCapabilities(keeping capabilities: [Capability]) throws(Failure) {
        let mask = capabilities.reduce(UInt64(0)) { $0 | 1 << UInt64($1.rawValue) }
        try check { avp_sandbox_drop_capabilities(mask, &$0) }
    }

    /// The file-system server's seccomp allow-list, on every thread.
    public static func installFileSystemFilter() throws(Failure) {
        try check { avp_sandbox_seccomp_fs(&$0) }
    }

    private static func check(_ call: (inout UnsafePointer<CChar>?) -> Int32) throws(Failure) {
        var step: UnsafePointer<CChar>?
        if call(&step) != 0 { throw Failure(step: step.map { String(cString: $0) } ?? "?", code: errno) }
    }

    /// Threads of this process now (entries of /proc/self/task).
    static var threadCount: Int {
        guard let dir = opendir("/proc/self/task") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != 0x2E { count += 1 }
        }
        return count
    }
}
