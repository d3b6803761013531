#if canImport(Glibc)
import Glibc
#endif

/// Large messages on a stream socket: a bigger send buffer, and one message sent from several
/// pieces of memory without first copying them together (the GPU's display writer sends a
/// VHOST_USER_GPU_UPDATE this way: its header, then the rows of the rectangle).
extension UnixSocket {
    /// Asks for a send buffer (SO_SNDBUF) of `bytes`, best effort: Linux doubles the value for
    /// its bookkeeping and caps it at net.core.wmem_max (208 KiB by default, so there this asks
    /// for nothing more). A blocking sender sleeps whenever the buffer is full and is woken as the
    /// peer reads: the larger the buffer, the fewer of those round trips per message.
    public func requestSendBuffer(bytes: Int) {
        var size = Int32(clamping: bytes)
        _ = setsockopt(rawValue, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Most iovecs one sendmsg(2) takes on Linux (UIO_MAXIOV).
    public static let maxIOVecs = 1024

    /// Sends all of `pieces`, in order, as one run of the stream: sendmsg(2) with an iovec per
    /// piece (at most `maxIOVecs` at a time), blocking until the peer has taken them, looping
    /// over partial sends; MSG_NOSIGNAL, so a closed peer is EPIPE, never SIGPIPE.
    /// The only copy of the pieces is the kernel's.
    public func send(gathering pieces: [UnsafeRawBufferPointer]) throws(Errno) {
        let pieces = pieces.filter { $0.count > 0 }
        var index = 0   // the first piece not sent in full
        var sentOfIt = 0   // bytes of it already sent
        var vectors = [iovec]()
        vectors.reserveCapacity(min(pieces.count, Self.maxIOVecs))
        while index < pieces.count {
            vectors.removeAll(keepingCapacity: true)
            for (k, piece) in pieces[index..<min(pieces.count, index + Self.maxIOVecs)].enumerated() {
                let skip = k == 0 ? sentOfIt : 0
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: piece.baseAddress! + skip), iov_len: piece.count - skip))
            }
            var sent = try vectors.withUnsafeMutableBufferPointer { (v) throws(Errno) -> Int in
                var message = msghdr()
                message.msg_iov = v.baseAddress
                message.msg_iovlen = v.count
                return try retryingSyscall("sendmsg") { sendmsg(rawValue, &message, Int32(MSG_NOSIGNAL)) }
            }
            // Step over what went out: whole pieces, then part of the next.
            while sent > 0, index < pieces.count {
                let left = pieces[index].count - sentOfIt
                if sent >= left {
                    sent -= left
                    index += 1
                    sentOfIt = 0
                } else {
                    sentOfIt += sent
                    sent = 0
                }
            }
        }
    }
}
