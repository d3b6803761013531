#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// Confining a device server after it has what it needs from the host (issue 12 for `avp serve
/// fs`, issue 16 for every `avp serve`): its own PID, mount, network and IPC namespaces; a root
/// that holds only what its `SandboxProfile` names and its own /proc; the capabilities the profile
/// keeps, with no_new_privs; resource limits; a seccomp allow-list. The steps are C (CAVPShim
/// sandbox*.c) because they depend on process state Swift does not show: `isolate` forks, so it
/// must run while the process has one thread. docs/sandbox.md.
public enum ServerSandbox {
    /// Where the shared directory is inside the file-system server's sandbox.
    public static let sharePath = "/share"

    /// Where the directory of socket `index` (in `pivot`'s list) is inside the file-system server's sandbox.
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

    /// Forks into new namespaces (the host's network or IPC namespace kept where `profile` says);
    /// returns in the child (PID 1 of its namespace). The parent waits for it, passes termination
    /// signals on and exits with its status, never returning here.
    public static func isolate(_ profile: SandboxProfile = .fileSystemDefaults) throws(Failure) {
        guard geteuid() == 0 else {
            throw Failure(step: "namespaces for '\(profile.kind)' (running as uid \(geteuid()), not root)", code: EPERM)
        }
        let threads = threadCount
        guard threads == 1 else { throw Failure(step: "fork with \(threads) threads running (it must come first)", code: EBUSY) }
        let keep = (profile.keepsHostNetwork ? Int32(AVP_SANDBOX_KEEP_NET) : 0) | (profile.keepsHostIPC ? Int32(AVP_SANDBOX_KEEP_IPC) : 0)
        try check { avp_sandbox_fork(keep, &$0) }
    }

    /// The file-system server's root: the share at `sharePath` and each of `socketDirectories`
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

    /// Every other server's root: each of `profile.directories` at its own host path.
    public static func pivot(_ profile: SandboxProfile) throws(Failure) {
        let copies = profile.directories.map { strdup($0.path) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        var writable = profile.directories.map { Int32($0.writable ? 1 : 0) }
        let count = Int32(pointers.count)
        try check { step in
            pointers.withUnsafeMutableBufferPointer { paths in
                writable.withUnsafeMutableBufferPointer { avp_sandbox_pivot_mirrored(paths.baseAddress, $0.baseAddress, count, &step) }
            }
        }
    }

    /// What follows the root: the limits, capabilities cut to the profile's (every thread),
    /// no_new_privs, then the allow-list (every thread). Last, since the filter forbids what comes before.
    public static func restrict(_ profile: SandboxProfile) throws(Failure) {
        // Limits first: raising a hard limit (more open files than the inherited hard limit) takes CAP_SYS_RESOURCE.
        try check { avp_sandbox_limit(UInt64(profile.openFiles), profile.addressSpace, &$0) }
        let mask = profile.capabilities.reduce(UInt64(0)) { $0 | 1 << UInt64($1.rawValue) }
        try check { avp_sandbox_drop_capabilities(mask, &$0) }
        try check { avp_sandbox_seccomp(profile.syscalls.rawValue, &$0) }
    }

    /// `pivot` then `restrict`: the whole confinement of a server that has opened what it needs
    /// (after `isolate`, which must come before any thread).
    public static func confine(_ profile: SandboxProfile) throws(Failure) {
        try pivot(profile)
        try restrict(profile)
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
