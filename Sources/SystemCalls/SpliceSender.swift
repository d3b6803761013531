#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// Sends a message to a blocking stream socket as a small header (copied, like any send) and
/// then a contiguous body that the kernel does not copy: vmsplice(2) maps the body's pages into
/// a pipe of this sender's, splice(2) moves those page references from the pipe into the socket,
/// and the peer's read copies them out of the very pages (one copy instead of two; the GPU's
/// display writer sends the pixel rows of a full-width VHOST_USER_GPU_UPDATE this way).
///
/// Rules that keep the stream exactly what a copying send would have produced:
///
/// - The body's pages are read when the peer reads, not when `send` returns: vmsplice(2)
///   without SPLICE_F_GIFT only references the user pages, and what is read from the pipe
///   (here, from the socket) is whatever the pages hold at that moment. So the caller hands over a `token` (the lease that
///   keeps the memory unwritten, such as `ScanoutFrame.Shared`) and the sender holds it until
///   the socket's unsent byte count (SIOCOUTQ: for AF_UNIX, memory of skbs the peer has not
///   read) is 0. Until then a new zero-copy send is refused (`false`): the caller sends by
///   copying instead, never waiting for the peer to catch up.
/// - A vmsplice or splice that fails partway may leave bytes in the pipe: the pipe is closed
///   and zero-copy given up for this sender; the rest of the body (from the first byte the
///   socket did not take: splice(2) reports partial moves exactly) goes by the copying send.
///   So the stream is never corrupted, and a dead socket fails that send with its own error.
/// - splice(2) to a socket cannot pass MSG_NOSIGNAL, so a peer that closed raises SIGPIPE,
///   whose default action ends the process (AVP installs no handler). SIGPIPE is blocked on
///   the calling thread for the duration of the splices and a pending one consumed before it
///   is unblocked (`avp_sigpipe_block` / `avp_sigpipe_restore`); the failure is EPIPE.
///
/// Not thread-safe: one sender per connection, used by that connection's writer thread.
public final class SpliceSender {
    /// Pipe capacity asked for: the bytes one vmsplice/splice pair moves (the kernel's default
    /// of 64 KiB would take 128 pairs for a 1080p frame; 1 MiB is the default pipe-max-size).
    public static let pipeBytes = 1 << 20

    private var pipe: (read: FileDescriptor, write: FileDescriptor)?
    /// The lease on the last zero-copy body, until the peer has read it.
    private var held: AnyObject?
    /// Why zero-copy was given up for good on this sender: the first failed pipe2, vmsplice,
    /// splice or SIOCOUTQ. Every later `send` returns false.
    public private(set) var givenUp: Errno?
    /// Bodies sent without a copy, and refused ones (the caller copied them).
    public private(set) var splicedCount = 0
    public private(set) var refusedCount = 0

    public init() {}

    /// Sends `header` then `body` (contiguous memory kept unwritten by `token`). `false` when
    /// zero-copy is not possible now: nothing was sent, send it some other way. `true` when the
    /// whole message went out. Throws the socket's error (the message may be partly sent, as
    /// with any failed blocking send: the connection is done).
    public func send(on socket: UnixSocket, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                     keeping token: AnyObject) throws(Errno) -> Bool {
        guard givenUp == nil, body.count > 0, peerHasReadEverything(socket) else {
            refusedCount += 1
            return false
        }
        guard let pipe = openPipe() else {
            refusedCount += 1
            return false
        }
        try socket.send(gathering: [header])
        // From the first splice on, the socket may reference the pages.
        held = token
        splicedCount += 1
        let blocked = avp_sigpipe_block()
        let outcome = splice(body, through: pipe, to: socket)
        avp_sigpipe_restore(blocked)
        if case let .failed(delivered, error) = outcome {
            giveUp(error)
            try socket.send(gathering: [UnsafeRawBufferPointer(rebasing: body[delivered...])])
        }
        return true
    }

    /// Lets go of the last body's lease once the peer has read it; true when nothing is held.
    /// (`send` does this itself; a writer may call it when idle so the memory is freed sooner.)
    @discardableResult
    public func releaseIfRead(_ socket: UnixSocket) -> Bool { peerHasReadEverything(socket) }

    private enum Outcome {
        case delivered
        /// `delivered` bytes of the body reached the socket; the pipe may hold more.
        case failed(delivered: Int, Errno)
    }

    private func splice(_ body: UnsafeRawBufferPointer, through pipe: (read: FileDescriptor, write: FileDescriptor),
                        to socket: UnixSocket) -> Outcome {
        var delivered = 0
        while delivered < body.count {
            let moved: Int
            do {
                moved = try retryingSyscall("vmsplice") { avp_vmsplice(pipe.write.rawValue, body.baseAddress! + delivered, body.count - delivered, 0) }
            } catch {
                return .failed(delivered: delivered, error)
            }
            if moved == 0 { return .failed(delivered: delivered, Errno(EIO, call: "vmsplice moved nothing")) }
            var left = moved
            while left > 0 {
                let n: Int
                do {
                    n = try retryingSyscall("splice") { avp_splice(pipe.read.rawValue, socket.rawValue, left, 0) }
                } catch {
                    return .failed(delivered: delivered, error)
                }
                if n == 0 { return .failed(delivered: delivered, Errno(EIO, call: "splice moved nothing")) }
                left -= n
                delivered += n
            }
        }
        return .delivered
    }

    /// Releases `held` when the socket has nothing unread; false while it has (or cannot tell).
    private func peerHasReadEverything(_ socket: UnixSocket) -> Bool {
        guard held != nil else { return true }
        let unsent = avp_socket_unsent_bytes(socket.rawValue)
        if unsent < 0 {
            giveUp(Errno.current("ioctl(SIOCOUTQ)"))
            return false
        }
        guard unsent == 0 else { return false }
        held = nil
        return true
    }

    private func openPipe() -> (read: FileDescriptor, write: FileDescriptor)? {
        if let pipe { return pipe }
        var fds: [Int32] = [-1, -1]
        guard avp_pipe_cloexec(&fds) == 0 else {
            giveUp(Errno.current("pipe2"))
            return nil
        }
        let made = (read: FileDescriptor(adopting: fds[0]), write: FileDescriptor(adopting: fds[1]))
        _ = avp_set_pipe_size(made.write.rawValue, Int32(Self.pipeBytes))   // best effort: a smaller pipe only costs more calls
        pipe = made
        return made
    }

    /// Closes the pipe (it may hold bytes that must never reach the socket) and stops zero-copy
    /// for this sender. A held lease stays held: the socket may still reference its pages.
    private func giveUp(_ error: Errno) {
        pipe = nil
        if givenUp == nil { givenUp = error }
    }
}
