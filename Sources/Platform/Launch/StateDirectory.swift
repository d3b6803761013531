import Foundation

/// Where a running platform keeps its sockets, logs, status and supervisor lock:
/// `/tmp/avp-UID/NAME`, or `$AVP_STATE_DIR/NAME`.
///
/// /tmp is shared by every user. A state directory someone else created, or can write
/// to, would let them replace the sockets (and so talk to the guests and device
/// servers), read console logs, or fake the supervisor's lock. So AVP creates its
/// directories with mode 0700, and before using one, new or found, requires it to be a
/// real directory (not a symbolic link), owned by this user and writable by nobody else;
/// otherwise it stops and names the directory and the fix. A directory chosen with
/// `AVP_STATE_DIR` is the user's: it may be a link and shared, but not one where others
/// could rename entries (group- or world-writable without the sticky bit /tmp has).
public struct StateDirectory: Sendable, Equatable {
    public let path: String
    /// Whether the directory above `path` is AVP's own per-user directory (`/tmp/avp-UID`),
    /// created and checked like `path`, rather than one the user chose.
    public let parentIsAVPs: Bool

    public init(path: String, parentIsAVPs: Bool = false) {
        self.path = URL(fileURLWithPath: path).standardizedFileURL.path
        self.parentIsAVPs = parentIsAVPs
    }

    public static func `default`(for platform: Platform,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) -> StateDirectory {
        if let chosen = environment["AVP_STATE_DIR"], !chosen.isEmpty {
            return StateDirectory(path: chosen + "/" + platform.name)
        }
        return StateDirectory(path: "/tmp/avp-\(geteuid())/" + platform.name, parentIsAVPs: true)
    }

    public var parent: String { URL(fileURLWithPath: path).deletingLastPathComponent().path }
    public var socketDirectory: String { path + "/sockets" }
    public var logDirectory: String { path + "/logs" }
    public var statusPath: String { path + "/status.json" }
    /// Held by the running supervisor (see `Supervisor.runningSupervisor`).
    public var lockPath: String { path + "/supervisor.lock" }

    /// Creates whatever is missing (mode 0700) and checks all of it, for `avp up`.
    public func prepare() throws(PlatformError) {
        if parentIsAVPs {
            try Self.makeDirectory(parent)
            try Self.checkPrivate(parent)
        } else {
            try Self.makeDirectories(parent)
            try Self.checkChosen(parent)
        }
        for directory in [path, socketDirectory, logDirectory] {
            try Self.makeDirectory(directory)
            try Self.checkPrivate(directory)
        }
    }

    /// Checks the directory if it exists, for commands that only read it; false if it
    /// does not exist (the platform never ran with this state directory).
    public func existing() throws(PlatformError) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return false }
            throw Self.unexaminable(path, errno)
        }
        if parentIsAVPs { try Self.checkPrivate(parent) } else { try Self.checkChosen(parent) }
        try Self.checkPrivate(path)
        return true
    }

    // MARK: Checks

    /// A real directory, owned by this user, writable by nobody else.
    static func checkPrivate(_ path: String) throws(PlatformError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw unexaminable(path, errno) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK:
            throw .unsafeStateDirectory(path, problem: "is a symbolic link",
                                        fix: "remove the link (rm \(path)); AVP creates the directory itself")
        default:
            throw .unsafeStateDirectory(path, problem: "is not a directory", fix: "remove it (rm \(path)); AVP creates the directory itself")
        }
        if info.st_uid != geteuid() {
            throw .unsafeStateDirectory(path, problem: "belongs to user \(info.st_uid), not to you (user \(geteuid()))",
                                        fix: "have it removed (by its owner or root), or set AVP_STATE_DIR to a directory of your own")
        }
        if info.st_mode & 0o022 != 0 {
            throw .unsafeStateDirectory(path, problem: "is writable by \(writers(info.st_mode)) (mode \(octal(info.st_mode)))",
                                        fix: "chmod 700 \(path)")
        }
    }

    /// A directory the user chose: followed if it is a link; owned by this user or root, and
    /// not one where others can rename entries.
    static func checkChosen(_ path: String) throws(PlatformError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw unexaminable(path, errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .unsafeStateDirectory(path, problem: "is not a directory", fix: "set AVP_STATE_DIR to a directory")
        }
        if info.st_uid != geteuid(), info.st_uid != 0 {
            throw .unsafeStateDirectory(path, problem: "belongs to user \(info.st_uid), who could replace what AVP keeps there",
                                        fix: "set AVP_STATE_DIR to a directory of your own")
        }
        if info.st_mode & 0o022 != 0, info.st_mode & S_ISVTX == 0 {
            throw .unsafeStateDirectory(path, problem: "is writable by \(writers(info.st_mode)) without the sticky bit (mode \(octal(info.st_mode)))",
                                        fix: "chmod 700 \(path) (or chmod +t), or set AVP_STATE_DIR to a private directory")
        }
    }

    private static func makeDirectory(_ path: String) throws(PlatformError) {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw .unsafeStateDirectory(path, problem: "cannot be created (\(String(cString: strerror(errno))))",
                                        fix: "set AVP_STATE_DIR to a directory you can write")
        }
    }

    /// `mkdir -p`, each directory it creates with mode 0700.
    private static func makeDirectories(_ path: String) throws(PlatformError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try makeDirectory(prefix)
        }
    }

    private static func unexaminable(_ path: String, _ code: Int32) -> PlatformError {
        .unsafeStateDirectory(path, problem: "cannot be examined (\(String(cString: strerror(code))))",
                              fix: "check its permissions, or set AVP_STATE_DIR to a directory of your own")
    }

    private static func writers(_ mode: mode_t) -> String {
        switch (mode & 0o020 != 0, mode & 0o002 != 0) {
        case (true, true): return "its group and others"
        case (true, false): return "its group"
        default: return "others"
        }
    }

    private static func octal(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
