#if canImport(Glibc)
import Glibc
#endif
import Devices
import Logging
import Synchronization
import SystemCalls
import Testing

/// `VhostUserGpuDisplay` against a stand-in for QEMU's end of the vhost-user-gpu socket
/// (QEMU docs/interop/vhost-user-gpu.rst): what it sends, in which order, and that the
/// device's thread never waits for a QEMU that does not read.
@Suite struct GpuDisplaySocket {
    typealias Message = VhostUserGpuMessageDecoder.Message
    static let logger = Logger(label: "test.gpu-display")

    @Test func scanoutPrecedesTheFirstUpdate() throws {
        let (sink, qemu) = try Self.connect()
        defer { sink.close() }
        let frame = Self.frame(64, 48, seed: 1)
        sink.scanoutChanged(0, frame: frame)
        sink.scanoutUpdated(0, rect: GpuRect(x: 8, y: 4, width: 16, height: 8), frame: frame)
        #expect(qemu.read { $0.contains { $0.header.request == 8 } })
        let first = try #require(qemu.messages.first)
        #expect(first.header == .init(request: 7, flags: 0, size: 12))
        #expect(Self.fields(first, 3) == [0, 64, 48])
        #expect(Self.shows(qemu.messages, frame), "QEMU's surface differs from the frame")
    }

    @Test func burstOfUpdatesIsCoalescedAndShowsTheFrame() throws {
        let (sink, qemu) = try Self.connect()
        defer { sink.close() }
        let frame = Self.frame(1920, 1080, seed: 0)
        sink.scanoutChanged(0, frame: frame)
        var rects: [GpuRect] = []
        for i in 0..<50 {
            let rect = GpuRect(x: UInt32(i * 37 % 1800), y: UInt32(i * 53 % 1000), width: 40 + UInt32(i), height: 30 + UInt32(i))
            Self.paint(frame, rect, value: UInt8(i + 1))
            sink.scanoutUpdated(0, rect: rect, frame: frame)
            rects.append(rect)
        }
        // Nobody read while they were issued; now read everything.
        qemu.readUntilQuiet()
        let updates = qemu.messages.filter { $0.header.request == 8 }
        // The writer is stuck in the first full frame until we read: the rest becomes one union.
        #expect(updates.count >= 1 && updates.count <= 3, "\(updates.count) UPDATEs")
        let sent = updates.map { Self.updateRect($0) }
        for rect in rects { #expect(sent.contains { $0.intersection(rect) == rect }, "\(rect) not covered") }
        for update in updates {
            #expect(update.header.size == 20 + Self.updateRect(update).width * Self.updateRect(update).height * 4)
        }
        #expect(Self.shows(qemu.messages, frame), "QEMU's surface differs from the frame")
    }

    @Test("an UPDATE of a narrow rect over more rows than one sendmsg takes (1024 iovecs) carries its pixels")
    func narrowTallUpdate() throws {
        let (sink, qemu) = try Self.connect()
        defer { sink.close() }
        let frame = Self.frame(100, 1500, seed: 6)
        sink.scanoutChanged(0, frame: frame)
        #expect(qemu.read { $0.contains { $0.header.request == 8 } })
        let rect = GpuRect(x: 10, y: 0, width: 30, height: 1500)
        Self.paint(frame, rect, value: 0x5A)
        sink.scanoutUpdated(0, rect: rect, frame: frame)
        #expect(qemu.read { $0.filter { $0.header.request == 8 }.count == 2 })
        #expect(Self.updateRect(try #require(qemu.messages.last)) == rect)
        #expect(Self.shows(qemu.messages, frame), "QEMU's surface differs from the frame")
    }

    @Test func updateBeforeAnyScanoutIsNeverSent() throws {
        let (sink, qemu) = try Self.connect(scanouts: 2)
        defer { sink.close() }
        let frame = Self.frame(32, 32, seed: 2)
        sink.scanoutUpdated(0, rect: GpuRect(x: 0, y: 0, width: 8, height: 8), frame: frame)
        sink.scanoutChanged(2, frame: frame)   // outside the two scanouts
        sink.scanoutUpdated(2, rect: GpuRect(x: 0, y: 0, width: 8, height: 8), frame: frame)
        sink.scanoutChanged(-1, frame: frame)
        sink.cursorMoved(7, x: 1, y: 1, visible: true)
        qemu.readUntilQuiet()
        #expect(qemu.messages.isEmpty)

        sink.scanoutChanged(1, frame: frame)
        #expect(qemu.read { $0.contains { $0.header.request == 8 } })
        #expect(qemu.messages.first?.header.request == 7)
        #expect(qemu.messages.allSatisfy { Self.fields($0, 1) == [1] })
    }

    @Test func reshapeToZeroSendsDisablingScanoutAndNoUpdateAfterIt() throws {
        let (sink, qemu) = try Self.connect()
        defer { sink.close() }
        let frame = Self.frame(32, 32, seed: 3)
        sink.scanoutChanged(0, frame: frame)
        #expect(qemu.read { $0.contains { $0.header.request == 8 } })
        frame.reshape(width: 0, height: 0)
        sink.scanoutChanged(0, frame: frame)
        sink.scanoutUpdated(0, rect: GpuRect(x: 0, y: 0, width: 8, height: 8), frame: frame)
        qemu.readUntilQuiet()
        let disable = try #require(qemu.messages.lastIndex { $0.header.request == 7 })
        #expect(Self.fields(qemu.messages[disable], 3) == [0, 0, 0])
        #expect(!qemu.messages[disable...].contains { $0.header.request == 8 })
        #expect(Self.replay(qemu.messages)[0] == nil, "no surface after SCANOUT 0×0")

        // Shown again at another size: SCANOUT again, then the whole frame.
        frame.reshape(width: 20, height: 10)
        Self.paint(frame, .whole(width: 20, height: 10), value: 9)
        sink.scanoutChanged(0, frame: frame)
        #expect(qemu.read { $0.last?.header.request == 8 })
        #expect(Self.fields(try #require(qemu.messages.last { $0.header.request == 7 }), 3) == [0, 20, 10])
        #expect(Self.shows(qemu.messages, frame), "QEMU's surface differs from the frame")
    }

    @Test func callerNeverBlocksWhenQemuDoesNotRead() throws {
        let (sink, qemu) = try Self.connect()
        let frame = Self.frame(1920, 1080, seed: 4)
        sink.scanoutChanged(0, frame: frame)
        let calls = try Self.onThread(timeoutMilliseconds: 10_000) {
            for i in 0..<10_000 {
                sink.scanoutUpdated(0, rect: GpuRect(x: UInt32(i % 1900), y: UInt32(i % 1000), width: 20, height: 20), frame: frame)
                sink.cursorMoved(0, x: UInt32(i), y: 1, visible: true)
            }
        }
        #expect(calls, "10 000 updates did not return while QEMU was not reading")
        // The writer is blocked in a write QEMU never takes: close() still ends it.
        let closed = try Self.onThread(timeoutMilliseconds: 10_000) { sink.close() }
        #expect(closed, "close() did not return while the writer was blocked")
        #expect(!sink.isConnected)
        qemu.readUntilQuiet()
        #expect(qemu.endOfStream)
    }

    @Test func peerCloseDisconnects() throws {
        let (sink, qemu) = try Self.connect()
        let frame = Self.frame(1920, 1080, seed: 5)
        sink.scanoutChanged(0, frame: frame)   // the writer blocks in the first full frame
        MonotonicClock.sleep(milliseconds: 50)
        #expect(sink.isConnected)
        qemu.socket.descriptor.close()
        #expect(Self.eventually { !sink.isConnected })
        sink.scanoutUpdated(0, rect: GpuRect(x: 0, y: 0, width: 4, height: 4), frame: frame)
        let closed = try Self.onThread(timeoutMilliseconds: 5_000) { sink.close() }
        #expect(closed)
        sink.close()
    }

    @Test func peerCloseWhileIdleDisconnects() throws {
        let (sink, qemu) = try Self.connect()
        defer { sink.close() }
        // Replies QEMU might send are read and dropped.
        try qemu.socket.send([1, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0])
        qemu.socket.shutdown(.write)
        #expect(Self.eventually { !sink.isConnected })
    }

    @Test func droppedWithoutCloseStopsAndClosesTheSocket() throws {
        let (ours, theirs) = try UnixSocket.pair()
        var sink: VhostUserGpuDisplay? = try VhostUserGpuDisplay(socket: ours, scanouts: 1, logger: Self.logger)
        let qemu = FakeQemu(theirs)
        sink?.scanoutChanged(0, frame: Self.frame(1920, 1080, seed: 6))
        MonotonicClock.sleep(milliseconds: 20)
        sink = nil
        qemu.readUntilQuiet()
        #expect(qemu.endOfStream)
    }

    @Test func cursorMessagesFollowTheProtocol() throws {
        let (sink, qemu) = try Self.connect()
        defer { sink.close() }
        let pixels = (0..<CursorImage.side * CursorImage.side * 4).map { UInt8(truncatingIfNeeded: $0 * 7) }
        sink.cursorMoved(0, x: 10, y: 20, visible: true)
        sink.cursorChanged(0, image: CursorImage(pixels: pixels, hotX: 3, hotY: 4))
        #expect(qemu.read { $0.contains { $0.header.request == 6 } })
        let update = try #require(qemu.messages.last { $0.header.request == 6 })
        #expect(update.header.size == 16404)
        #expect(Self.fields(update, 5) == [0, 10, 20, 3, 4])
        #expect(update.payload[20...].elementsEqual(pixels), "cursor image")

        sink.cursorChanged(0, image: nil)
        #expect(qemu.read { $0.last?.header.request == 5 })
        #expect(Self.fields(qemu.messages.last!, 3) == [0, 10, 20])
        sink.cursorChanged(0, image: CursorImage(pixels: pixels, hotX: 0, hotY: 0))
        sink.cursorMoved(0, x: 5, y: 6, visible: true)
        // Shown at the latest position: a CURSOR_UPDATE there, or one followed by a CURSOR_POS.
        #expect(qemu.read { messages in
            guard let last = messages.last, [4, 6].contains(last.header.request) else { return false }
            return Self.fields(last, 3) == [0, 5, 6]
        })
    }

    @Test func encodingAndDecoding() throws {
        let scanout = VhostUserGpuMessage.scanout(2, width: 1280, height: 800)
        #expect(scanout.count == 24)
        let cursor = VhostUserGpuMessage.cursorUpdate(0, x: 1, y: 2, image: CursorImage(pixels: [1, 2, 3], hotX: 5, hotY: 6))
        #expect(cursor.count == 12 + 16404)
        #expect(VhostUserGpuMessage.Header(cursor) == .init(request: 6, size: 16404))
        #expect(Array(cursor[32..<36]) == [1, 2, 3, 0])
        let rect = GpuRect(x: 1, y: 2, width: 3, height: 4)
        #expect(VhostUserGpuMessage.update(0, rect: rect, pixels: [0]) == nil)
        let update = try #require(VhostUserGpuMessage.update(0, rect: rect, pixels: [UInt8](repeating: 7, count: 48)))
        #expect(VhostUserGpuMessage.Header(update)?.size == 68)
        #expect(VhostUserGpuMessage.updatePrefix(0, rect: GpuRect(x: 0, y: 0, width: 40_000, height: 40_000)) == nil)

        // Byte by byte, as a stream may deliver it; payloads over the limit are skipped.
        var decoder = VhostUserGpuMessageDecoder(keepingPayloadsUpTo: 100)
        var seen: [Message] = []
        for byte in scanout + cursor + update + VhostUserGpuMessage.cursorPosition(1, x: 2, y: 3, visible: false) {
            decoder.feed([byte]) { seen.append($0) }
        }
        #expect(!decoder.isInsideMessage)
        #expect(seen.map(\.header.request) == [7, 6, 8, 5])
        #expect(seen.map(\.payload.count) == [12, 0, 68, 12])
        #expect(Self.fields(seen[0], 3) == [2, 1280, 800])
        #expect(Self.fields(seen[3], 3) == [1, 2, 3])
    }

    // MARK: Helpers

    static func connect(scanouts: Int = 1) throws -> (VhostUserGpuDisplay, FakeQemu) {
        let (ours, theirs) = try UnixSocket.pair()
        return (try VhostUserGpuDisplay(socket: ours, scanouts: scanouts, logger: logger), FakeQemu(theirs))
    }

    static func frame(_ width: Int, _ height: Int, seed: UInt8) -> ScanoutFrame {
        let frame = ScanoutFrame()
        frame.reshape(width: width, height: height)
        let pixels = (0..<width * height * 4).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
        pixels.withUnsafeBytes { frame.copy(.whole(width: width, height: height), from: $0, sourceOffset: 0, sourceStride: width * 4) }
        return frame
    }

    static func paint(_ frame: ScanoutFrame, _ rect: GpuRect, value: UInt8) {
        let bytes = [UInt8](repeating: value, count: Int(rect.width * rect.height * 4))
        bytes.withUnsafeBytes { frame.copy(rect, from: $0, sourceOffset: 0, sourceStride: Int(rect.width) * 4) }
    }

    static func fields(_ message: Message, _ count: Int) -> [UInt32] {
        (0..<count).compactMap { VhostUserGpuMessage.u32(message.payload, at: $0 * 4) }
    }

    /// Whether QEMU's surface for scanout 0 after `messages` equals `frame` (size and pixels).
    static func shows(_ messages: [Message], _ frame: ScanoutFrame) -> Bool {
        guard let surface = replay(messages)[0] else { return false }
        let snapshot = frame.snapshot()
        return surface.width == snapshot.width && surface.height == snapshot.height && surface.pixels == snapshot.pixels
    }

    static func updateRect(_ message: Message) -> GpuRect {
        let f = fields(message, 5)
        return GpuRect(x: f[1], y: f[2], width: f[3], height: f[4])
    }

    /// QEMU's surfaces after `messages`: SCANOUT makes a blank one (0×0: none), UPDATE draws
    /// into it. An UPDATE without a surface (a QEMU crash) is recorded as a test failure.
    static func replay(_ messages: [Message]) -> [UInt32: (width: Int, height: Int, pixels: [UInt8])] {
        var surfaces: [UInt32: (width: Int, height: Int, pixels: [UInt8])] = [:]
        for message in messages {
            let id = fields(message, 1).first ?? 0
            if message.header.request == 7 {
                let f = fields(message, 3)
                surfaces[id] = f[1] == 0 ? nil : (Int(f[1]), Int(f[2]), [UInt8](repeating: 0, count: Int(f[1] * f[2] * 4)))
            } else if message.header.request == 8 {
                guard var surface = surfaces[id] else {
                    Issue.record("UPDATE for scanout \(id) without a surface")
                    continue
                }
                let r = updateRect(message)
                #expect(r.fits(width: surface.width, height: surface.height))
                #expect(message.payload.count == 20 + Int(r.width * r.height * 4))
                let row = Int(r.width) * 4
                for y in 0..<Int(r.height) {
                    let to = (Int(r.y) + y) * surface.width * 4 + Int(r.x) * 4
                    surface.pixels.replaceSubrange(to..<to + row, with: message.payload[20 + y * row..<20 + (y + 1) * row])
                }
                surfaces[id] = surface
            }
        }
        return surfaces
    }

    /// Runs `body` on its own thread; false if it has not returned within the timeout.
    static func onThread(timeoutMilliseconds: Int32, _ body: @escaping @Sendable () -> Void) throws -> Bool {
        let done = try EventFD()
        let thread = try OSThread(name: "test-caller") {
            body()
            done.signal()
        }
        guard done.wait(timeoutMilliseconds: timeoutMilliseconds) != nil else { return false }
        thread.join()
        return true
    }

    static func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = MonotonicClock.seconds() + seconds
        while !condition() {
            if MonotonicClock.seconds() > deadline { return false }
            MonotonicClock.sleep(milliseconds: 5)
        }
        return true
    }
}

/// QEMU's end of the socket: reads and decodes what the sink sends.
final class FakeQemu {
    let socket: UnixSocket
    private var decoder = VhostUserGpuMessageDecoder(keepingPayloadsUpTo: 64 << 20)
    private(set) var messages: [VhostUserGpuMessageDecoder.Message] = []
    private(set) var endOfStream = false

    init(_ socket: UnixSocket) { self.socket = socket }

    /// Reads until `done(messages)` holds; false if it still does not after `seconds`.
    @discardableResult
    func read(seconds: Double = 10, until done: ([VhostUserGpuMessageDecoder.Message]) -> Bool) -> Bool {
        let deadline = MonotonicClock.seconds() + seconds
        while !done(messages) {
            if MonotonicClock.seconds() > deadline || endOfStream { return false }
            _ = poll(milliseconds: 20)
        }
        return true
    }

    /// Reads until nothing has arrived for `milliseconds`.
    func readUntilQuiet(milliseconds: Int32 = 300) {
        while !endOfStream, poll(milliseconds: milliseconds) {}
    }

    /// Waits up to `milliseconds` for bytes and reads them; false if none came.
    private func poll(milliseconds: Int32) -> Bool {
        var pfd = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&pfd, 1, milliseconds) > 0 else { return false }
        var any = false
        while true {
            switch try? socket.receiveNonBlocking(upTo: 1 << 20) {
            case let .received(bytes)?:
                any = true
                decoder.feed(bytes) { messages.append($0) }
            case .wouldBlock?:
                return any
            case .endOfStream?, nil:
                endOfStream = true
                return any
            }
        }
    }
}
