#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// An epoll(7) instance whose registrations carry a 64-bit token chosen by the caller.
public final class Epoll: Sendable {
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: UInt32(EPOLLIN.rawValue))
        public static let writable = Events(rawValue: UInt32(EPOLLOUT.rawValue))
        public static let error = Events(rawValue: UInt32(EPOLLERR.rawValue))
        public static let hangup = Events(rawValue: UInt32(EPOLLHUP.rawValue))
        public static let peerClosed = Events(rawValue: UInt32(EPOLLRDHUP.rawValue))
        public static let edgeTriggered = Events(rawValue: UInt32(EPOLLET.rawValue))
    }

    public struct Event: Sendable {
        public let token: UInt64
        public let events: Events

        public init(token: UInt64, events: Events) {
            self.token = token
            self.events = events
        }
    }

    /// Events one `wait` returns at most.
    public static let maxEvents = 64

    private let descriptor: FileDescriptor

    public init() throws(Errno) {
        let fd = try retryingSyscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        descriptor = FileDescriptor(adopting: fd)
    }

    /// The epoll descriptor itself: readable while events are pending, so one epoll can watch another.
    public var rawValue: Int32 { descriptor.rawValue }

    public func add(_ fd: Int32, events: Events = .readable, token: UInt64) throws(Errno) {
        _ = try retryingSyscall("epoll_ctl(ADD)") { avp_epoll_ctl(descriptor.rawValue, EPOLL_CTL_ADD, fd, events.rawValue, token) }
    }

    public func modify(_ fd: Int32, events: Events, token: UInt64) throws(Errno) {
        _ = try retryingSyscall("epoll_ctl(MOD)") { avp_epoll_ctl(descriptor.rawValue, EPOLL_CTL_MOD, fd, events.rawValue, token) }
    }

    /// Removes a registration; a descriptor that is not registered is ignored.
    public func remove(_ fd: Int32) {
        _ = avp_epoll_ctl(descriptor.rawValue, EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) for at most `maxEvents` events.
    public func wait(timeoutMilliseconds: Int32 = -1) throws(Errno) -> [Event] {
        var tokens = [UInt64](repeating: 0, count: Self.maxEvents)
        var events = [UInt32](repeating: 0, count: Self.maxEvents)
        let n = try retryingSyscall("epoll_wait") {
            avp_epoll_wait(descriptor.rawValue, &tokens, &events, Int32(Self.maxEvents), timeoutMilliseconds)
        }
        return (0..<Int(n)).map { Event(token: tokens[$0], events: Events(rawValue: events[$0])) }
    }
}
