#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SystemCalls

/// The `ScanoutSink` that shows scanouts and the cursor on QEMU's display, over the socket
/// QEMU's vhost-user-gpu front end hands the back end with VHOST_USER_GPU_SET_SOCKET at every
/// guest DRIVER_OK (QEMU docs/interop/vhost-user-gpu.rst). One per socket: when QEMU closes its
/// end (guest reset, VM pause) this sink stops (`isConnected` false) and the next socket gets a
/// new one.
///
/// The device's thread only records what changed, under a lock, and wakes this sink's own
/// writer thread; it never waits for QEMU. QEMU reads this socket in its main loop under the
/// BQL, perhaps while it waits for the back end's answer on the control socket, so a device
/// thread stuck writing a large UPDATE could deadlock both processes.
///
/// The writer coalesces: per scanout it keeps whether QEMU needs a SCANOUT and the union of the
/// dirty rectangles, and sends at most one SCANOUT and one UPDATE per scanout each time it
/// catches up, with the frame's pixels as they are when sent, so a slow QEMU sees fewer, larger
/// updates instead of a backlog. The cursor is the latest image and position only.
public final class VhostUserGpuDisplay: ScanoutSink {
    /// Most scanouts a virtio-gpu device has (VIRTIO_GPU_MAX_SCANOUTS, QEMU's `max_outputs` ≤ 16).
    public static let maxScanouts = 16

    private let core: Core
    private let thread = Mutex<OSThread?>(nil)

    /// Starts the writer thread on `socket` (made blocking; owned and closed by this sink).
    /// `scanouts` is clamped to 1...16; indices outside it are ignored.
    public init(socket: UnixSocket, scanouts: Int, logger: Logger) throws {
        let core = try Core(socket: socket, scanouts: min(max(scanouts, 1), Self.maxScanouts), logger: logger)
        self.core = core
        let started = try OSThread(name: "avp-gpu-display") { core.run() }
        thread.withLock { $0 = started }
    }

    deinit { close() }

    /// False once QEMU closed its end or the socket failed (or after `close()`); nothing is sent any more.
    public var isConnected: Bool { core.isConnected }

    /// UPDATEs sent so far whose pixels the kernel did not copy (`SpliceSender`); for tests and diagnostics.
    public var zeroCopyUpdates: Int { core.zeroCopyUpdates.load(ordering: .relaxed) }

    /// Stops the writer, even in the middle of a write to a QEMU that does not read, and closes
    /// the socket. Idempotent.
    public func close() {
        thread.withLock { thread in
            guard let running = thread else { return }
            thread = nil
            core.stop()
            running.join()
            core.socket.descriptor.close()
        }
    }

    // MARK: ScanoutSink (device thread: record and wake, never wait)

    public func scanoutChanged(_ index: Int, frame: ScanoutFrame) {
        core.record(index) { output in
            output.frame = frame
            output.announce = true
            output.dirty = nil
        }
    }

    /// Ignored unless `frame` is what scanout `index` shows (`scanoutChanged`): QEMU has no
    /// surface for a scanout before its first SCANOUT, and an UPDATE then would crash it.
    public func scanoutUpdated(_ index: Int, rect: GpuRect, frame: ScanoutFrame) {
        guard !rect.isEmpty else { return }
        core.recordIf(index) { output in
            guard output.frame === frame else { return false }
            output.dirty = output.dirty.map { $0.union(rect) } ?? rect
            return true
        }
    }

    public func cursorChanged(_ index: Int, image: CursorImage?) {
        core.record(index) { output in
            output.cursor.image = image
            output.cursor.visible = image != nil
            output.cursor.imageChanged = true
        }
    }

    public func cursorMoved(_ index: Int, x: UInt32, y: UInt32, visible: Bool) {
        core.record(index) { output in
            output.cursor.x = x
            output.cursor.y = y
            output.cursor.visible = visible
            output.cursor.moved = true
        }
    }
}

/// What the device asked for one scanout and QEMU has not been sent yet.
private struct PendingOutput {
    struct Cursor {
        var image: CursorImage?
        var x: UInt32 = 0
        var y: UInt32 = 0
        var visible = false
        var imageChanged = false
        var moved = false
    }

    var frame: ScanoutFrame?
    /// The device (re)set the scanout: QEMU gets a SCANOUT, then the whole frame.
    var announce = false
    var dirty: GpuRect?
    var cursor = Cursor()

    var hasWork: Bool { announce || dirty != nil || cursor.imageChanged || cursor.moved }

    /// Takes the work, leaving the state (frame, cursor image and position) for the next time.
    mutating func take() -> PendingOutput {
        let work = self
        announce = false
        dirty = nil
        cursor.imageChanged = false
        cursor.moved = false
        return work
    }
}

/// The socket, the state shared with the device's thread, and the writer thread's loop.
private final class Core: Sendable {
    struct Shared {
        var outputs: [PendingOutput]
        var connected = true
        var stopping = false
        /// The wake event was signalled and the writer has not yet looked: no need to signal again.
        var wakePending = false
    }

    private enum Token {
        static let wake: UInt64 = 0
        static let socket: UInt64 = 1
    }

    /// SO_SNDBUF asked for the display socket (see `UnixSocket.requestSendBuffer`).
    static let sendBufferBytes = 1 << 20

    let socket: UnixSocket
    private let logger: Logger
    private let epoll: Epoll
    private let wake: EventFD
    private let shared: Mutex<Shared>
    /// Full-width UPDATEs' pixels without the kernel's copy into the socket (writer thread only).
    nonisolated(unsafe) private let splicer = SpliceSender()
    /// UPDATEs whose pixels went by `splicer` (for tests and diagnostics).
    let zeroCopyUpdates = Atomic<Int>(0)

    init(socket: UnixSocket, scanouts: Int, logger: Logger) throws {
        // Blocking writes: a message goes out whole, header and pixels back to back (QEMU reads
        // each with qemu_chr_fe_read_all, busy-waiting on a partial one); waiting is this
        // thread's job, and stop() shuts the socket down to end a write QEMU never takes.
        try socket.descriptor.setNonBlocking(false)
        // A larger send buffer than Linux's default (208 KiB): a full-frame UPDATE (8 MiB at
        // 1080p) then wakes this thread a few times instead of ~40, each a context switch.
        socket.requestSendBuffer(bytes: Self.sendBufferBytes)
        self.socket = socket
        self.logger = logger
        epoll = try Epoll()
        wake = try EventFD()
        shared = Mutex(Shared(outputs: Array(repeating: PendingOutput(), count: scanouts)))
        try epoll.add(wake.rawValue, token: Token.wake)
        try epoll.add(socket.rawValue, events: [.readable, .peerClosed], token: Token.socket)
    }

    var isConnected: Bool { shared.withLock { $0.connected } }

    /// Applies `change` to scanout `index` (ignored outside the device's scanouts, or once
    /// disconnected) and wakes the writer if `change` returns true. O(1), never blocks.
    func recordIf(_ index: Int, _ change: (inout PendingOutput) -> Bool) {
        let signal = shared.withLock { s -> Bool in
            guard s.connected, s.outputs.indices.contains(index), change(&s.outputs[index]) else { return false }
            guard !s.wakePending else { return false }
            s.wakePending = true
            return true
        }
        if signal { wake.signal() }
    }

    func record(_ index: Int, _ change: (inout PendingOutput) -> Void) {
        recordIf(index) { output in
            change(&output)
            return true
        }
    }

    /// Makes the writer return: a blocked send fails once the socket is shut down.
    func stop() {
        shared.withLock { s in
            s.stopping = true
            s.connected = false
            for i in s.outputs.indices { s.outputs[i] = PendingOutput() }
        }
        socket.shutdown(.both)
        wake.signal()
    }

    // MARK: Writer thread

    /// What the writer knows QEMU has: the size of each scanout's surface (nil before any SCANOUT).
    private struct Sent {
        var sizes: [(width: Int, height: Int)?]
        var incoming = VhostUserGpuMessageDecoder(keepingPayloadsUpTo: 0)
    }

    func run() {
        var sent = Sent(sizes: Array(repeating: nil, count: shared.withLock { $0.outputs.count }))
        while true {
            let events: [Epoll.Event]
            do {
                events = try epoll.wait()
            } catch {
                disconnect("waiting failed: \(error)")
                return
            }
            for event in events {
                if event.token == Token.wake { wake.drain() }
                if event.token == Token.socket, !readIncoming(&sent) { return }
            }
            guard sendPending(&sent) else { return }
            // An idle writer lets go of a frame QEMU has read, for the device to write into again.
            splicer.releaseIfRead(socket)
        }
    }

    /// Reads and drops what QEMU sent (we ask nothing that needs a reply); false at its end.
    private func readIncoming(_ sent: inout Sent) -> Bool {
        while true {
            let result: UnixSocket.ReceiveResult
            do {
                result = try socket.receiveNonBlocking(upTo: 4096)
            } catch {
                disconnect("reading failed: \(error)")
                return false
            }
            switch result {
            case .wouldBlock:
                return true
            case .endOfStream:
                disconnect("QEMU closed the display socket")
                return false
            case let .received(bytes):
                sent.incoming.feed(bytes) { message in
                    logger.debug("vhost-user-gpu display: ignored message \(message.header.request) flags \(message.header.flags) size \(message.header.size)")
                }
            }
        }
    }

    private enum Taken {
        case work(PendingOutput)
        case idle
        case stop
    }

    /// Sends everything pending, round the scanouts until none has work; false once stopped or disconnected.
    private func sendPending(_ sent: inout Sent) -> Bool {
        while true {
            var didWork = false
            for index in sent.sizes.indices {
                let taken = shared.withLock { s -> Taken in
                    guard s.connected, !s.stopping else { return .stop }
                    if index == 0 { s.wakePending = false }
                    return s.outputs[index].hasWork ? .work(s.outputs[index].take()) : .idle
                }
                switch taken {
                case .stop:
                    return false
                case .idle:
                    continue
                case let .work(work):
                    didWork = true
                    guard send(work, index, &sent) else { return false }
                }
            }
            if !didWork { return true }
        }
    }

    /// One scanout's SCANOUT, UPDATE and cursor messages.
    private func send(_ work: PendingOutput, _ index: Int, _ sent: inout Sent) -> Bool {
        let id = UInt32(index)
        if let frame = work.frame {
            // One consistent view (size and pixels), read unlocked while QEMU takes it: the device
            // writes its next flushes into another buffer meanwhile, never waiting for this send.
            let pixels = frame.shared()
            let size = (width: pixels.width, height: pixels.height)
            var dirty = work.dirty
            if work.announce || sent.sizes[index].map({ $0 != size }) ?? true {
                // QEMU makes a new, blank surface: it gets the whole frame next (vhost-user-gpu.rst, SCANOUT).
                guard write(VhostUserGpuMessage.scanout(id, width: UInt32(clamping: size.width), height: UInt32(clamping: size.height))) else { return false }
                sent.sizes[index] = size
                dirty = GpuRect.whole(width: size.width, height: size.height)
            }
            // Only onto a surface QEMU has: an UPDATE before a SCANOUT, or after a 0×0 one, is a
            // NULL dereference in QEMU; the rect is clipped to it, and exactly its pixels follow.
            if let shown = sent.sizes[index], shown.width > 0, shown.height > 0,
               let rect = dirty?.intersection(.whole(width: shown.width, height: shown.height)),
               rect.fits(width: pixels.width, height: pixels.height),
               let prefix = VhostUserGpuMessage.updatePrefix(id, rect: rect) {
                guard write(prefix, rect, of: pixels) else { return false }
            }
        }
        let cursor = work.cursor
        if cursor.imageChanged, let image = cursor.image {
            guard write(VhostUserGpuMessage.cursorUpdate(id, x: cursor.x, y: cursor.y, image: image)) else { return false }
            if !cursor.visible {
                guard write(VhostUserGpuMessage.cursorPosition(id, x: cursor.x, y: cursor.y, visible: false)) else { return false }
            }
        } else if cursor.imageChanged || cursor.moved {
            let visible = cursor.visible && cursor.image != nil
            guard write(VhostUserGpuMessage.cursorPosition(id, x: cursor.x, y: cursor.y, visible: visible)) else { return false }
        }
        return true
    }

    /// Writes all of `bytes` (blocking, looping over partial writes, MSG_NOSIGNAL: `UnixSocket.send`),
    /// waiting for QEMU to take them; false (disconnected) on any error, including the shutdown by `stop()`.
    private func write(_ bytes: [UInt8]) -> Bool {
        do {
            try socket.send(bytes)
            return true
        } catch {
            return failed(error)
        }
    }

    /// Disconnects after a failed write; false.
    private func failed(_ error: Errno) -> Bool {
        disconnect(error.code == EPIPE || error.code == ECONNRESET ? "QEMU closed the display socket" : "writing failed: \(error)")
        return false
    }

    /// Writes an UPDATE's `prefix` and then the pixels of `rect` (within `frame`) as tight rows,
    /// straight from the frame's buffer. Whole rows are one contiguous piece: zero-copy
    /// (`SpliceSender`, holding the frame's buffer until QEMU has read it) unless the previous
    /// zero-copy UPDATE is still unread or zero-copy failed on this connection; otherwise, and
    /// for narrower rects, one gathering sendmsg (one piece, or one per row).
    private func write(_ prefix: [UInt8], _ rect: GpuRect, of frame: ScanoutFrame.Shared) -> Bool {
        let stride = frame.width * PixelStore.bytesPerPixel, rowBytes = Int(rect.width) * PixelStore.bytesPerPixel
        let start = Int(rect.y) * stride + Int(rect.x) * PixelStore.bytesPerPixel
        // Not throwing closures: typed throws through withUnsafeBytes crashes Swift 6.3's IRGen.
        var failure: Errno?
        let hadGivenUp = splicer.givenUp != nil
        prefix.withUnsafeBytes { header in
            frame.withBytes { bytes in
                if rowBytes == stride {
                    let body = UnsafeRawBufferPointer(rebasing: bytes[start..<start + rowBytes * Int(rect.height)])
                    do throws(Errno) {
                        if try splicer.send(on: socket, header: header, body: body, keeping: frame.buffer) {
                            zeroCopyUpdates.add(1, ordering: .relaxed)
                            return
                        }
                    } catch {
                        failure = error
                        return
                    }
                }
                let rows = rowBytes == stride
                    ? [UnsafeRawBufferPointer(rebasing: bytes[start..<start + rowBytes * Int(rect.height)])]
                    : (0..<Int(rect.height)).map { UnsafeRawBufferPointer(rebasing: bytes[(start + $0 * stride)..<(start + $0 * stride + rowBytes)]) }
                do throws(Errno) { try socket.send(gathering: [header] + rows) } catch { failure = error }
            }
        }
        if !hadGivenUp, failure == nil, let error = splicer.givenUp {
            logger.warning("vhost-user-gpu display: zero-copy sending failed (\(error)); copying from now on")
        }
        if let failure { return failed(failure) }
        return true
    }

    /// Stops sending and drops everything queued; logs once, unless `close()` caused it.
    private func disconnect(_ reason: String) {
        let log = shared.withLock { s -> Bool in
            let wasConnected = s.connected && !s.stopping
            s.connected = false
            for i in s.outputs.indices { s.outputs[i] = PendingOutput() }
            return wasConnected
        }
        epoll.remove(socket.rawValue)
        socket.shutdown(.both)
        if log { logger.info("vhost-user-gpu display: \(reason); not sending any more") }
    }
}
