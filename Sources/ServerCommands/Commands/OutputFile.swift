import Glibc

/// Writing a command's result to `--output`, with errors that say which file and why.
public enum OutputFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(CommandFailure) {
        try checkDirectory(of: path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(path, errno) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw failure(path, errno) }
            written += n
        }
    }

    /// Fails (naming the directory) if `path` cannot be created because its directory is
    /// missing or not a directory; for commands that write through other APIs.
    public static func checkDirectory(of path: String) throws(CommandFailure) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        var status = stat()
        guard stat(directory, &status) == 0 else {
            throw CommandFailure("cannot write \(UserText.shortened(path, limit: 200)): the directory \(UserText.shortened(directory, limit: 200)) does not exist")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw CommandFailure("cannot write \(UserText.shortened(path, limit: 200)): \(UserText.shortened(directory, limit: 200)) is not a directory")
        }
    }

    private static func failure(_ path: String, _ code: Int32) -> CommandFailure {
        CommandFailure("cannot write \(UserText.shortened(path, limit: 200)): \(String(cString: strerror(code)))")
    }
}
