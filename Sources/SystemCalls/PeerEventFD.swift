#if canImport(Glibc)
import Glibc
#endif

/// Why a descriptor a peer sent as an eventfd (vhost-user kick, call and error
/// notifiers) was refused.
public enum PeerEventFDError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The descriptor is something else: a pipe, a socket, a file (what /proc names it).
    case notAnEventFD(kind: String)
    /// O_NONBLOCK could not be set on it.
    case cannotMakeNonBlocking(Errno)

    public var description: String {
        switch self {
        case let .notAnEventFD(kind): return "the descriptor is a \(kind), not an eventfd"
        case let .cannotMakeNonBlocking(e): return "the eventfd cannot be made non-blocking: \(e)"
        }
    }
}

extension EventFD {
    /// Adopts a descriptor a peer sent as an eventfd, after checking that it is one and
    /// making it non-blocking: a thread that drains it must never sleep in read(2) because a
    /// peer sent a blocking eventfd or a pipe (a read of an empty blocking eventfd waits for ever,
    /// and a pipe whose writer is gone reports hang-up to epoll without end).
    public convenience init(validating descriptor: FileDescriptor) throws(PeerEventFDError) {
        if let kind = Self.kind(of: descriptor.rawValue), kind != "anon_inode:[eventfd]" {
            throw .notAnEventFD(kind: Self.describe(kind))
        }
        do { try descriptor.setNonBlocking() } catch { throw .cannotMakeNonBlocking(error) }
        self.init(adopting: descriptor)
    }

    /// What /proc/self/fd says the descriptor is ("anon_inode:[eventfd]", "pipe:[123]", a path),
    /// or nil where /proc is not mounted.
    static func kind(of fd: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// "pipe:[123]" → "pipe", "anon_inode:[signalfd]" → "signalfd", "/dev/null" → "file".
    private static func describe(_ kind: String) -> String {
        if kind.hasPrefix("/") { return "file" }
        if kind.hasPrefix("anon_inode:") {
            return String(kind.dropFirst("anon_inode:".count).filter { $0 != "[" && $0 != "]" })
        }
        return String(kind.prefix { $0 != ":" })
    }
}
