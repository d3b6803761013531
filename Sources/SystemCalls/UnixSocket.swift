#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// A SOCK_STREAM Unix-domain socket that can carry file descriptors (SCM_RIGHTS).
public final class UnixSocket: Sendable {
    public let descriptor: FileDescriptor

    public init(adopting descriptor: FileDescriptor) { self.descriptor = descriptor }

    public var rawValue: Int32 { descriptor.rawValue }

    /// The most descriptors one received message may carry (more are closed and reported as truncated).
    public static let maxDescriptors = Int(AVP_MAX_FDS)

    /// A socket bound to `path` (not yet listening); `UnixListener` owns the file's life.
    static func bound(to path: String) throws(Errno) -> UnixSocket {
        let sock = try makeSocket()
        try withAddress(path) { (addr, len) throws(Errno) in
            _ = try retryingSyscall("bind \(path)") { bind(sock.rawValue, addr, len) }
        }
        return UnixSocket(adopting: sock)
    }

    /// Connects to the socket at `path`. With `nonBlocking`, a server whose backlog is full fails
    /// with EAGAIN at once instead of making the caller wait.
    public static func connect(to path: String, nonBlocking: Bool = false) throws(Errno) -> UnixSocket {
        let sock = try makeSocket()
        if nonBlocking { try sock.setNonBlocking() }
        try withAddress(path) { (addr, len) throws(Errno) in
            _ = try retryingSyscall("connect \(path)") { Glibc.connect(sock.rawValue, addr, len) }
        }
        return UnixSocket(adopting: sock)
    }

    /// A connected pair (socketpair(2)), for tests and in-process peers.
    public static func pair() throws(Errno) -> (UnixSocket, UnixSocket) {
        var fds: [Int32] = [0, 0]
        _ = try retryingSyscall("socketpair") { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (UnixSocket(adopting: FileDescriptor(adopting: fds[0])), UnixSocket(adopting: FileDescriptor(adopting: fds[1])))
    }

    public func accept() throws(Errno) -> UnixSocket {
        let fd = try retryingSyscall("accept4") { avp_accept_cloexec(rawValue) }
        return UnixSocket(adopting: FileDescriptor(adopting: fd))
    }

    /// Sends all of `bytes`; `descriptors` travel with the first byte.
    public func send(_ bytes: [UInt8], descriptors: [Int32] = []) throws(Errno) {
        guard descriptors.count <= Int(AVP_MAX_SEND_FDS) else { throw Errno(EINVAL, call: "sendmsg: too many descriptors") }
        var offset = 0
        var fds = descriptors
        while offset < bytes.count || (offset == 0 && bytes.isEmpty) {
            let n = try bytes.withBytes { (b) throws(Errno) -> Int in
                try retryingSyscall("sendmsg") { avp_send_with_fds(rawValue, b.baseAddress! + offset, b.count - offset, fds, Int32(fds.count)) }
            }
            if bytes.isEmpty { break }
            offset += n
            fds = []
        }
    }

    /// What one recvmsg(2) returned.
    public struct Received {
        public var bytes: [UInt8]
        public var descriptors: [FileDescriptor]
        /// The kernel dropped descriptors (more than `maxDescriptors` were sent).
        public var descriptorsTruncated: Bool
    }

    /// Receives up to `count` bytes with any descriptors attached; an empty result means the peer closed.
    public func receive(upTo count: Int) throws(Errno) -> Received {
        var buffer = [UInt8](repeating: 0, count: count)
        var fds = [Int32](repeating: -1, count: Self.maxDescriptors)
        var nfds: Int32 = 0
        var truncated: Int32 = 0
        let n = try buffer.withMutableBytes { (b) throws(Errno) -> Int in
            try retryingSyscall("recvmsg") { avp_recv_with_fds(rawValue, b.baseAddress, count, &fds, Int32(fds.count), &nfds, &truncated) }
        }
        buffer.removeSubrange(n...)
        let owned = fds.prefix(Int(nfds)).map { FileDescriptor(adopting: $0) }
        return Received(bytes: buffer, descriptors: owned, descriptorsTruncated: truncated != 0)
    }

    /// Receives exactly `count` bytes (looping over short reads), collecting descriptors from every piece.
    /// Returns nil if the peer closed before the first byte; throws ECONNRESET if it closed mid-message.
    public func receiveExactly(_ count: Int) throws(Errno) -> Received? {
        var result = Received(bytes: [], descriptors: [], descriptorsTruncated: false)
        result.bytes.reserveCapacity(count)
        while result.bytes.count < count {
            let piece = try receive(upTo: count - result.bytes.count)
            result.descriptors += piece.descriptors
            result.descriptorsTruncated = result.descriptorsTruncated || piece.descriptorsTruncated
            if piece.bytes.isEmpty {
                if result.bytes.isEmpty { return nil }
                throw Errno(ECONNRESET, call: "recvmsg: peer closed mid-message")
            }
            result.bytes += piece.bytes
        }
        return result
    }

    /// What a non-blocking send did.
    public enum SendResult: Equatable, Sendable {
        /// This many bytes went into the socket buffer (possibly fewer than offered).
        case sent(Int)
        /// The socket buffer is full: nothing was sent; try again when the socket is writable.
        case wouldBlock
    }

    /// Sends as much of `bytes` as the socket buffer takes now, never waiting (MSG_DONTWAIT) and
    /// never raising SIGPIPE (MSG_NOSIGNAL): a peer that went away is an EPIPE error instead.
    public func sendNonBlocking(_ bytes: [UInt8]) throws(Errno) -> SendResult {
        do {
            let n = try bytes.withBytes { (b) throws(Errno) -> Int in
                try retryingSyscall("send") { Glibc.send(rawValue, b.baseAddress, b.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            }
            return .sent(n)
        } catch where error.code == EAGAIN || error.code == EWOULDBLOCK {
            return .wouldBlock
        }
    }

    /// What a non-blocking receive found.
    public enum ReceiveResult: Equatable, Sendable {
        /// Bytes that had arrived (at least one).
        case received([UInt8])
        /// Nothing has arrived yet.
        case wouldBlock
        /// The peer will send nothing more (it closed or shut down its sending side).
        case endOfStream
    }

    /// Receives up to `count` bytes that have already arrived, never waiting (MSG_DONTWAIT).
    /// Descriptors a peer attaches are not accepted (the kernel discards them). `count` 0 reads nothing (`wouldBlock`).
    public func receiveNonBlocking(upTo count: Int) throws(Errno) -> ReceiveResult {
        guard count > 0 else { return .wouldBlock }
        var buffer = [UInt8](repeating: 0, count: count)
        do {
            let n = try buffer.withMutableBytes { (b) throws(Errno) -> Int in
                try retryingSyscall("recv") { Glibc.recv(rawValue, b.baseAddress, b.count, Int32(MSG_DONTWAIT)) }
            }
            guard n > 0 else { return .endOfStream }
            buffer.removeSubrange(n...)
            return .received(buffer)
        } catch where error.code == EAGAIN || error.code == EWOULDBLOCK {
            return .wouldBlock
        }
    }

    /// Whether the peer has sent something not yet read (without reading it or waiting);
    /// false when it closed without sending, or sent nothing yet.
    public var hasPendingData: Bool {
        var byte: UInt8 = 0
        let n = recv(rawValue, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        return n == 1
    }

    /// Which directions `shutdown` ends.
    public enum ShutdownDirection: Sendable {
        /// No more receiving here; on a Unix socket the peer's further sends fail (EPIPE).
        case read
        /// No more sending here; the peer reads end-of-stream once it has read what was sent.
        case write
        case both
    }

    /// Stops further sends and/or receives (both by default) without closing the descriptor.
    public func shutdown(_ direction: ShutdownDirection = .both) {
        let how: Int32
        switch direction {
        case .read: how = Int32(SHUT_RD)
        case .write: how = Int32(SHUT_WR)
        case .both: how = Int32(SHUT_RDWR)
        }
        _ = Glibc.shutdown(rawValue, how)
    }

    private static func makeSocket() throws(Errno) -> FileDescriptor {
        let fd = try retryingSyscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        return FileDescriptor(adopting: fd)
    }

    private static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> R) throws(Errno) -> R {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        let utf8 = Array(path.utf8)
        guard !utf8.isEmpty, utf8.count < capacity else { throw Errno(ENAMETOOLONG, call: "socket path \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: utf8)
            raw[utf8.count] = 0
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + utf8.count + 1)
        return try withUnsafePointer(to: &addr) { (p) throws(Errno) -> R in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(Errno) -> R in try body(sa, len) }
        }
    }
}
