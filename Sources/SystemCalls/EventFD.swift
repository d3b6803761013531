#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// An eventfd(2) counter: the kick and call notifications of a virtqueue, and the
/// wake-up of an event loop.
public final class EventFD: Sendable {
    public let descriptor: FileDescriptor

    /// A new non-blocking, close-on-exec eventfd.
    public init() throws(Errno) {
        let fd = try retryingSyscall("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
        descriptor = FileDescriptor(adopting: fd)
    }

    /// Wraps an eventfd received from a peer.
    public init(adopting descriptor: FileDescriptor) { self.descriptor = descriptor }

    public var rawValue: Int32 { descriptor.rawValue }

    /// Adds 1 to the counter, waking whoever waits on it.
    public func signal() {
        var one: UInt64 = 1
        // EAGAIN means the counter is saturated: the reader is already due to wake up.
        _ = withUnsafeBytes(of: &one) { Glibc.write(descriptor.rawValue, $0.baseAddress, 8) }
    }

    /// Reads and resets the counter; nil if it was zero (non-blocking) or the fd is not an eventfd.
    @discardableResult
    public func drain() -> UInt64? {
        var value: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &value) { Glibc.read(descriptor.rawValue, $0.baseAddress, 8) }
        return n == 8 ? value : nil
    }

    /// Blocks until the counter is non-zero or `timeoutMilliseconds` pass; returns the count or nil on timeout.
    public func wait(timeoutMilliseconds: Int32) -> UInt64? {
        var pfd = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, timeoutMilliseconds)
        guard r > 0 else { return nil }
        return drain()
    }
}
