#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// Why a listening socket could not be created at a path.
public enum UnixListenerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A live process answers on the path: taking it over would cut that server off.
    case inUse(path: String)
    /// Something other than a socket has the name.
    case notASocket(path: String)
    case system(Errno)

    public var description: String {
        switch self {
        case let .inUse(path):
            return "\(path) is in use: another server is listening on it (stop that server, or choose another socket path)"
        case let .notASocket(path): return "\(path) exists and is not a socket; remove it or choose another path"
        case let .system(e): return e.description
        }
    }
}

/// A listening Unix-domain socket and the file that names it. The file is taken over
/// only when stale (nobody answers on it), and removed only while it still names this
/// socket, so a second server can neither steal a live server's socket nor delete it
/// when it exits. Creation runs under an advisory lock on the directory, so two AVP
/// servers started at once cannot both decide that the same file is stale.
public final class UnixListener: Sendable {
    public let socket: UnixSocket
    public let path: String
    /// Device and inode of the socket file as bound: how `removeFile` recognises its own file.
    private let identity: FileIdentity

    struct FileIdentity: Equatable, Sendable {
        let device: UInt64
        let inode: UInt64

        init?(path: String) {
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else { return nil }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    /// Binds and listens at `path` (non-blocking, close-on-exec). The backlog holds front ends
    /// that connect while the server is busy; Linux caps it at net.core.somaxconn.
    public init(path: String, backlog: Int32 = 128) throws(UnixListenerError) {
        self.path = path
        let directoryLock = Self.lockDirectory(of: path)
        defer { directoryLock.map { _ = flock($0.rawValue, LOCK_UN) } }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .notASocket(path: path) }
            guard !Self.answers(path) else { throw .inUse(path: path) }
            unlink(path)
        }
        let bound: UnixSocket
        do {
            bound = try UnixSocket.bound(to: path)
            _ = try retryingSyscall("listen \(path)") { Glibc.listen(bound.rawValue, backlog) }
            try bound.descriptor.setNonBlocking()
        } catch {
            throw .system(error)
        }
        socket = bound
        guard let identity = FileIdentity(path: path) else { throw .system(Errno(ENOENT, call: "lstat \(path) after bind")) }
        self.identity = identity
    }

    deinit { removeFile() }

    public var rawValue: Int32 { socket.rawValue }

    /// The next pending connection, or nil when none is waiting.
    public func accept() throws(Errno) -> UnixSocket? {
        do { return try socket.accept() } catch where error.code == EAGAIN || error.code == EWOULDBLOCK {
            return nil
        }
    }

    /// Waits up to `timeoutMilliseconds` (-1: for ever) for a connection; nil on timeout.
    public func accept(waitingMilliseconds timeoutMilliseconds: Int32) throws(Errno) -> UnixSocket? {
        var pfd = pollfd(fd: rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&pfd, 1, timeoutMilliseconds)
            if r < 0, errno == EINTR { continue }
            guard r > 0 else { return nil }
            if let socket = try accept() { return socket }
        }
    }

    /// Removes the socket file if it still names this socket (not one a later server bound there).
    public func removeFile() {
        if FileIdentity(path: path) == identity { unlink(path) }
    }

    /// Whether a process accepts connections on the socket file at `path`. A server with a full
    /// backlog (EAGAIN) is alive too; only "connection refused" means the file is stale.
    static func answers(_ path: String) -> Bool {
        do {
            _ = try UnixSocket.connect(to: path, nonBlocking: true)
            return true
        } catch {
            return error.code != ECONNREFUSED && error.code != ENOENT
        }
    }

    /// An exclusive flock(2) on the directory holding `path`, or nil where it cannot be opened.
    private static func lockDirectory(of path: String) -> FileDescriptor? {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        guard let fd = try? FileDescriptor.open(directory.isEmpty ? "/" : directory, flags: O_RDONLY | O_DIRECTORY) else {
            return nil
        }
        _ = try? retryingSyscall("flock") { flock(fd.rawValue, LOCK_EX) }
        return fd
    }
}
