#if canImport(Glibc)
import Glibc
#endif
import Devices
import Synchronization
import SystemCalls
import Testing

/// Zero-copy UPDATEs (`SpliceSender`: vmsplice + splice): the pages are read by QEMU when it
/// reads, so the frame must stay unwritten until then; a closed peer must not kill the process.
@Suite struct GpuDisplayZeroCopy {
    typealias Helpers = GpuDisplaySocket

    /// A whole frame of one pixel value: any mixture in an UPDATE is tearing.
    static func fill(_ frame: ScanoutFrame, width: Int, height: Int, value: UInt32) {
        let pixels = [UInt32](repeating: value, count: width * height)
        pixels.withUnsafeBytes { frame.copy(.whole(width: width, height: height), from: $0, sourceOffset: 0, sourceStride: width * 4) }
    }

    @Test("many full-width UPDATEs read slowly: each carries exactly one flushed frame, in order, zero-copy")
    func slowReaderSeesNoTearing() throws {
        // 256 KiB a frame: a whole frame may sit unread in the socket when its send returns.
        let (width, height, flushes) = (256, 256, 240)
        let (sink, qemu) = try Helpers.connect()
        defer { sink.close() }
        let frame = ScanoutFrame()
        frame.reshape(width: width, height: height)
        Self.fill(frame, width: width, height: height, value: 1)
        sink.scanoutChanged(0, frame: frame)
        let painted = Atomic<Bool>(false)
        let device = try OSThread(name: "test-device") {
            for value in 2...UInt32(flushes) {
                Self.fill(frame, width: width, height: height, value: value)
                sink.scanoutUpdated(0, rect: .whole(width: width, height: height), frame: frame)
                // Bursts (a frame every 2 ms, each read in ~8: the device writes while QEMU reads
                // a spliced frame), then a pause that lets QEMU catch up, so the next UPDATE goes
                // zero-copy again (it does only once the socket is drained).
                MonotonicClock.sleep(milliseconds: value % 4 == 0 ? 60 : 2)
            }
            painted.store(true, ordering: .releasing)
        }
        // A slow QEMU: small reads with pauses, so sends overlap the device's writes.
        var decoder = VhostUserGpuMessageDecoder(keepingPayloadsUpTo: 8 << 20)
        var values: [UInt32] = []
        var torn = 0
        let deadline = MonotonicClock.seconds() + 60
        while values.last != UInt32(flushes), MonotonicClock.seconds() < deadline {
            guard case let .received(bytes)? = try? qemu.socket.receiveNonBlocking(upTo: 32 << 10) else {
                MonotonicClock.sleep(milliseconds: 1)
                continue
            }
            decoder.feed(bytes) { message in
                guard message.header.request == 8 else { return }
                #expect(Helpers.updateRect(message) == .whole(width: width, height: height))
                let pixels = message.payload[20...].withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
                #expect(pixels.count == width * height)
                let first = pixels.first ?? 0
                if pixels.contains(where: { $0 != first }) { torn += 1 }
                values.append(first)
            }
            MonotonicClock.sleep(milliseconds: 1)
        }
        device.join()
        let allPainted = painted.load(ordering: .acquiring)
        #expect(allPainted)
        #expect(torn == 0, "\(torn) of \(values.count) UPDATEs mix pixels of different flushes")
        #expect(values.last == UInt32(flushes), "the last frame shown is \(values.last ?? 0)")
        #expect(values == values.sorted(), "UPDATEs out of flush order")
        #expect(values.allSatisfy { (1...UInt32(flushes)).contains($0) })
        #expect(sink.zeroCopyUpdates >= 10, "\(sink.zeroCopyUpdates) of \(values.count) UPDATEs went zero-copy")
    }

    @Test("QEMU closing in the middle of zero-copy UPDATEs disconnects; no SIGPIPE ends the process")
    func readerClosesMidStream() throws {
        let (width, height) = (1920, 1080)
        let (sink, qemu) = try Helpers.connect()
        let frame = ScanoutFrame()
        frame.reshape(width: width, height: height)
        Self.fill(frame, width: width, height: height, value: 1)
        sink.scanoutChanged(0, frame: frame)
        // Take the first UPDATE whole (the next one may go zero-copy), then part of another, then close.
        #expect(qemu.read { $0.contains { $0.header.request == 8 } })
        for value in 2...6 as ClosedRange<UInt32> {
            Self.fill(frame, width: width, height: height, value: value)
            sink.scanoutUpdated(0, rect: .whole(width: width, height: height), frame: frame)
            MonotonicClock.sleep(milliseconds: 20)
            _ = try? qemu.socket.receiveNonBlocking(upTo: 256 << 10)
        }
        qemu.socket.descriptor.close()
        for value in 7...20 as ClosedRange<UInt32> {
            Self.fill(frame, width: width, height: height, value: value)
            sink.scanoutUpdated(0, rect: .whole(width: width, height: height), frame: frame)
        }
        #expect(Helpers.eventually { !sink.isConnected })
        let closed = try Helpers.onThread(timeoutMilliseconds: 5_000) { sink.close() }
        #expect(closed)
    }

    @Test("SpliceSender: header and body arrive intact; no second zero-copy send until the first is read; the lease is held till then")
    func spliceSenderHoldsTheLeaseUntilRead() throws {
        final class Lease {}
        let (ours, theirs) = try UnixSocket.pair()
        let sender = SpliceSender()
        let header: [UInt8] = [1, 2, 3, 4, 5]
        // Small enough for the socket to take without a reader on another thread.
        let body = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        func send(_ lease: Lease) throws -> Bool {
            try header.withUnsafeBytes { h in try body.withUnsafeBytes { b in try sender.send(on: ours, header: h, body: b, keeping: lease) } }
        }
        weak var first: Lease?
        do {
            let lease = Lease()
            first = lease
            #expect(try send(lease))
        }
        #expect(first != nil, "released before the peer read the pages")
        #expect(try !send(Lease()), "a second zero-copy send while the first is unread")
        #expect(sender.refusedCount == 1)
        let received = try #require(try theirs.receiveExactly(header.count + body.count))
        #expect(received.bytes == header + body)
        #expect(sender.releaseIfRead(ours))
        #expect(first == nil, "still held after the peer read everything")
        #expect(try send(Lease()))
        #expect(try theirs.receiveExactly(header.count + body.count)?.bytes == header + body)
        #expect(sender.splicedCount == 2 && sender.givenUp == nil)
    }

    @Test("SpliceSender to a closed peer: EPIPE from splice itself (empty header), no SIGPIPE")
    func spliceSenderToClosedPeer() throws {
        let (ours, theirs) = try UnixSocket.pair()
        theirs.descriptor.close()
        let sender = SpliceSender()
        let body = [UInt8](repeating: 9, count: 10_000)
        #expect(throws: Errno(EPIPE)) {
            _ = try [UInt8]().withUnsafeBytes { h in try body.withUnsafeBytes { b in try sender.send(on: ours, header: h, body: b, keeping: ours) } }
        }
        #expect(sender.givenUp?.code == EPIPE && sender.splicedCount == 1)
    }
}
