#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// A TCP listener bound to 127.0.0.1 only: a local view for the person at the machine
/// (the GPU server's web view), never reachable from the network. Port 0 picks a free port;
/// `port` is the one bound.
public final class LoopbackListener: Sendable {
    public let descriptor: FileDescriptor
    public let port: UInt16

    public init(port: UInt16, backlog: Int32 = 16) throws(Errno) {
        let fd = try retryingSyscall("socket(AF_INET)") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let sock = FileDescriptor(adopting: fd)
        // A server restarted by its supervisor binds its port again while old connections linger in TIME_WAIT.
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = try withUnsafePointer(to: &address) { (p) throws(Errno) -> Int32 in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (a) throws(Errno) -> Int32 in
                try retryingSyscall("bind 127.0.0.1:\(port)") { bind(fd, a, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        _ = try retryingSyscall("listen") { listen(fd, backlog) }
        // Polled before each accept; non-blocking so a connection reset in between costs nothing.
        try sock.setNonBlocking()
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = try withUnsafeMutablePointer(to: &bound) { (p) throws(Errno) -> Int32 in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (a) throws(Errno) -> Int32 in
                try retryingSyscall("getsockname") { getsockname(fd, a, &length) }
            }
        }
        descriptor = sock
        self.port = UInt16(bigEndian: bound.sin_port)
    }

    /// The next connection, waiting at most `timeoutMilliseconds`; nil when none came. The
    /// connection blocks, with send and receive timeouts of `ioTimeoutSeconds` so a client
    /// that stops reading or writing cannot hold its thread for longer.
    public func accept(timeoutMilliseconds: Int32, ioTimeoutSeconds: Int = 10) throws(Errno) -> LoopbackConnection? {
        var pfd = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return nil }
            throw Errno(errno, call: "poll")
        }
        guard ready > 0 else { return nil }
        let fd: Int32
        do { fd = try retryingSyscall("accept4") { avp_accept_cloexec(descriptor.rawValue) } } catch where [EAGAIN, EWOULDBLOCK, ECONNABORTED].contains(error.code) {
            return nil
        }
        let connection = FileDescriptor(adopting: fd)
        connection.setSocketTimeouts(seconds: ioTimeoutSeconds)
        return LoopbackConnection(descriptor: connection)
    }
}

/// An accepted TCP connection: blocking, with timeouts; sends never raise SIGPIPE.
public struct LoopbackConnection: Sendable {
    public let descriptor: FileDescriptor

    /// Reads up to `buffer.count` bytes; 0 when the peer closed.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int { try descriptor.read(into: buffer) }

    /// Sends all of `bytes`; a peer that went away is an EPIPE error (MSG_NOSIGNAL), not a signal.
    public func sendAll(_ bytes: [UInt8]) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n = try bytes.withBytes { (b) throws(Errno) -> Int in
                try retryingSyscall("send") { send(descriptor.rawValue, b.baseAddress! + done, b.count - done, Int32(MSG_NOSIGNAL)) }
            }
            if n == 0 { throw Errno(EPIPE, call: "send") }
            done += n
        }
    }
}
