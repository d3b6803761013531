import ServerCommands

/// Errors the platform layer reports to a user, each with the fix when there is one.
public enum PlatformError: Error, CustomStringConvertible {
    case missingFile(String, fix: String)
    case qemuNotFound(String)
    case launchFailed(String)
    case guestFailed(String)
    case invalidArgument(String)
    /// A platform's state directory (or one above it) that someone else could tamper with:
    /// replace its sockets, read its console logs, or fake its supervisor's lock.
    case unsafeStateDirectory(String, problem: String, fix: String)
    /// A file in a state directory that is not what AVP writes there.
    case corruptState(String, problem: String, fix: String)
    /// `avp up` while the platform's supervisor (this pid, if known) still runs.
    case alreadyUp(platform: String, supervisor: Int32?)

    public var description: String {
        switch self {
        case let .missingFile(path, fix): return "\(path) does not exist; \(fix)"
        case let .qemuNotFound(name): return "\(name) not found; install QEMU (scripts/host-setup) or pass --qemu PATH"
        case let .launchFailed(why): return "launch failed: \(why)"
        case let .guestFailed(why): return "guest failed: \(why)"
        case let .invalidArgument(why): return why
        case let .unsafeStateDirectory(path, problem, fix):
            return "state directory \(UserText.shortened(path, limit: 200)) \(problem), so AVP will not use it; fix: \(fix)"
        case let .corruptState(path, problem, fix):
            return "\(UserText.shortened(path, limit: 200)) is corrupt: \(problem); fix: \(fix)"
        case let .alreadyUp(platform, pid?):
            return "platform '\(platform)' is already up (supervisor pid \(pid)); run 'avp down' first"
        case let .alreadyUp(platform, nil):
            return "platform '\(platform)' is already up; run 'avp down' first"
        }
    }
}
