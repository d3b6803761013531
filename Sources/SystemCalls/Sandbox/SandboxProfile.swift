#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// What one kind of server may still reach once confined (`ServerSandbox`): the host directories
/// bound into its root at their own paths, the capabilities it keeps, the system-call groups it
/// adds to the common allow-list, the namespaces it keeps from the host and its resource limits.
/// Each `avp serve` command makes its own from its options (Sources/avp/ServeSandboxProfiles.swift).
public struct SandboxProfile: Sendable, Equatable {
    /// A host directory bound into the sandbox at the same path (nosuid, nodev, noexec).
    public struct Directory: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var writable: Bool

        public init(_ path: String, writable: Bool) {
            self.path = path
            self.writable = writable
        }

        public var description: String { path + (writable ? "" : " (read-only)") }
    }

    /// System calls beyond the common base (include/avp_sandbox.h names what each group holds).
    public struct Syscalls: OptionSet, Sendable, Equatable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// socket(AF_UNIX) and connect: a server that connects at run time (reconnecting to a VMM's socket).
        public static let unixSockets = Syscalls(rawValue: UInt32(AVP_SECCOMP_UNIX_SOCKETS))
        /// Replacing a file by renaming a temporary over it (statistics files, snapshots, EEPROM files).
        public static let fileReplace = Syscalls(rawValue: UInt32(AVP_SECCOMP_FILE_REPLACE))
        /// The virtio-fs passthrough's calls.
        public static let fileSystem = Syscalls(rawValue: UInt32(AVP_SECCOMP_FILE_SYSTEM))
        /// ALSA's System V IPC and audio threads' scheduling.
        public static let audio = Syscalls(rawValue: UInt32(AVP_SECCOMP_AUDIO))
    }

    /// The `avp serve` command: "entropy", "gpu".
    public var kind: String
    public var directories: [Directory]
    public var capabilities: [ServerSandbox.Capability]
    public var syscalls: Syscalls
    /// The host's network namespace (a listener opened on 127.0.0.1 before the sandbox is only reachable there).
    public var keepsHostNetwork: Bool
    /// The host's IPC namespace (ALSA's dmix shares System V memory with the host's other players).
    public var keepsHostIPC: Bool
    /// RLIMIT_NOFILE, soft and hard (0: as it is).
    public var openFiles: Int
    /// RLIMIT_AS in bytes, soft and hard (0: as it is).
    public var addressSpace: UInt64

    public init(kind: String, directories: [Directory] = [], capabilities: [ServerSandbox.Capability] = [], syscalls: Syscalls = [],
                keepsHostNetwork: Bool = false, keepsHostIPC: Bool = false, openFiles: Int = 0, addressSpace: UInt64 = 0) {
        self.kind = kind
        self.directories = Self.outermost(directories)
        self.capabilities = capabilities
        self.syscalls = syscalls
        self.keepsHostNetwork = keepsHostNetwork
        self.keepsHostIPC = keepsHostIPC
        self.openFiles = openFiles
        self.addressSpace = addressSpace
    }

    /// The file-system server's namespaces (its root and filter are its own: `ServerSandbox.pivot(share:…)`).
    public static let fileSystemDefaults = SandboxProfile(kind: "fs")

    /// How many system calls the allow-list lets through.
    public var allowedSyscallCount: Int { Int(avp_sandbox_seccomp_allowed(syscalls.rawValue)) }

    /// The directory holding `path` (a socket, a file), absolute and without "." or "..".
    public static func directory(of path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : currentDirectory + "/" + path
        var parts: [Substring] = []
        for part in absolute.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        _ = parts.popLast()
        return "/" + parts.joined(separator: "/")
    }

    /// `path` itself as a directory, absolute.
    public static func directory(_ path: String) -> String { directory(of: path + "/x") }

    private static var currentDirectory: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// One entry per tree: a directory inside another is reached through it (writable if either is);
    /// the root itself is never bound.
    static func outermost(_ directories: [Directory]) -> [Directory] {
        var kept: [Directory] = []
        for d in directories.sorted(by: { $0.path.count < $1.path.count }) where d.path != "/" {
            if let i = kept.firstIndex(where: { d.path == $0.path || d.path.hasPrefix($0.path + "/") }) {
                kept[i].writable = kept[i].writable || d.writable
            } else {
                kept.append(d)
            }
        }
        return kept.sorted { $0.path < $1.path }
    }
}
