import SystemCalls

/// Why an image could not be opened for a server.
public enum BlockImageError: Error, Equatable, CustomStringConvertible {
    case open(Errno)
    /// Another open file holds the image's lock (`BlockImageLock`): a server still using it, or
    /// one that was stopped with reads or writes the kernel has not finished.
    case locked(waitedSeconds: Double)

    public var description: String {
        switch self {
        case let .open(error): return "\(error)"
        case let .locked(seconds):
            return "in use: another process still has it open (a running server, or a stopped one whose I/O has not finished after \(Int(seconds)) s)"
        }
    }
}
