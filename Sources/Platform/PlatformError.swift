/// Errors the platform layer reports to a user, each with the fix when there is one.
public enum PlatformError: Error, CustomStringConvertible {
    case missingFile(String, fix: String)
    case qemuNotFound(String)
    case launchFailed(String)
    case guestFailed(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .missingFile(path, fix): return "\(path) does not exist; \(fix)"
        case let .qemuNotFound(name): return "\(name) not found; install QEMU (scripts/host-setup) or pass --qemu PATH"
        case let .launchFailed(why): return "launch failed: \(why)"
        case let .guestFailed(why): return "guest failed: \(why)"
        case let .invalidArgument(why): return why
        }
    }
}
