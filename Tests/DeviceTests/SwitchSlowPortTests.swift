import AVPTestSupport
@testable import Devices
import Foundation
import GuestMemory
import SystemCalls
import Testing
import Virtio

/// A port whose VM stops taking frames (never reposts receive buffers) while flooded traffic
/// keeps coming for it: the other ports go on as before, and what the switch holds for the
/// stuck port stays bounded. No timing assertions; bench/switch-stuck-port measures the speed.
@Suite(.serialized) struct SwitchSlowPort {
    let directory: String
    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-switch-slow-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    static let a = MACAddress("02:00:00:00:00:0a")!, b = MACAddress("02:00:00:00:00:0b")!, c = MACAddress("02:00:00:00:00:0c")!

    /// Broadcast frames of `size` bytes from a, each numbered; returns the numbers b received, in order.
    /// a sends in windows of `window` and waits for b to have them, as a flow-controlled sender would.
    func flood(from pa: PortFixture, to pb: PortFixture, frames total: Int, size: Int, window: Int = 64) throws -> [UInt32] {
        let header = [UInt8](repeating: 0, count: NetHeader.size)
        let txBuffers = try (0..<window).map { _ in try pa.driver.allocate(NetHeader.size + size) }
        let rxBuffers = try (0..<2 * window).map { _ in try pb.driver.allocate(NetHeader.size + size) }
        var byHead: [UInt16: GuestSlice] = [:]
        for buffer in rxBuffers { byHead[try pb.rx.ring.add(writable: [buffer])] = buffer }
        pb.rx.kick()
        var received: [UInt32] = []
        var sent = 0
        while sent < total {
            let count = min(window, total - sent)
            for (i, buffer) in txBuffers.prefix(count).enumerated() {
                let number = UInt32(sent + i)
                let payload = withUnsafeBytes(of: number.littleEndian) { Array($0) }
                try buffer.write(header + MACAddress.broadcast.bytes + Self.a.bytes + [0x88, 0xb5] + payload
                                 + [UInt8](repeating: 0x5a, count: size - 18))
                try pa.tx.ring.add(readable: [buffer])
            }
            pa.tx.kick()
            sent += count
            _ = try pa.tx.waitForUsed(count: count)
            var arrived = 0
            while arrived < count {
                let used = try pb.rx.waitForUsed(count: 1, timeoutMilliseconds: 5000)
                if used.isEmpty { return received }   // b starved: the caller's expectations say how much
                // Every used buffer first, then repost them (reposting reuses descriptor heads).
                var done: [GuestSlice] = []
                for element in used {
                    let taken = byHead.removeValue(forKey: element.head)
                    let buffer = try #require(taken)
                    let bytes = try buffer.bytes(at: NetHeader.size + 14, count: 4)
                    received.append(bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
                    done.append(buffer)
                }
                for buffer in done { byHead[try pb.rx.ring.add(writable: [buffer])] = buffer }
                arrived += used.count
                pb.rx.kick()
            }
        }
        return received
    }

    func settle(_ condition: () -> Bool) {
        let deadline = MonotonicClock.seconds() + 3
        while !condition(), MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 5) }
    }

    @Test("AVPS-v2.0-30/15: a port that never reposts receive buffers costs the others nothing; b gets every frame a sent, c's backlog stays bounded")
    func stuckPortDoesNotStallTheOthers() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fabric = EthernetSwitch()
        let pa = try PortFixture(NetPortPolicy(name: "a", mac: Self.a), on: fabric, directory: directory)
        let pb = try PortFixture(NetPortPolicy(name: "b", mac: Self.b), on: fabric, directory: directory)
        let pc = try PortFixture(NetPortPolicy(name: "c", mac: Self.c), on: fabric, directory: directory)
        // c takes 16 frames, then never reposts a buffer.
        _ = try pc.postReceiveBuffers(16)
        let total = 4000, size = 1514
        let received = try flood(from: pa, to: pb, frames: total, size: size)
        #expect(received == Array(0..<UInt32(total)), "b got \(received.count) of \(total) frames")

        let inboxShare = FrameInbox.perSenderLimit
        settle { pc.port.counters.framesToGuest + pc.port.counters.backlogFrames + pc.port.counters.droppedBacklog == total }
        let c = pc.port.counters
        #expect(c.framesToGuest == 16, "\(c)")
        // Its share for a, no more (less the 16 its buffers took, if they took them while a was still sending).
        #expect(c.backlogFrames >= inboxShare - 16 && c.backlogFrames <= inboxShare, "\(c)")
        #expect(c.droppedBacklog == total - 16 - c.backlogFrames, "the rest was dropped, not queued: \(c)")
        #expect(c.peakBacklogBytes <= inboxShare * size, "\(c)")
        let b = pb.port.counters
        #expect(b.framesToGuest == total && b.droppedBacklog == 0, "\(b)")

        // c comes back: its buffers fill from the frames its share held.
        _ = try pc.postReceiveBuffers(64)
        #expect(try pc.rx.waitForUsed(count: 16 + 64).count == 16 + 64)
        settle { pc.port.counters.backlogFrames == c.backlogFrames - 64 }
        #expect(pc.port.counters.backlogFrames == c.backlogFrames - 64)
    }

    @Test("AVPS-v2.0-30: jumbo frames for a stuck port are held up to a byte limit per sender, not 256 of them")
    func stuckPortHoldsBoundedBytes() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fabric = EthernetSwitch()
        let jumbo = 9000
        let pa = try PortFixture(NetPortPolicy(name: "a", mac: Self.a, mtu: 65535), on: fabric, directory: directory)
        let pb = try PortFixture(NetPortPolicy(name: "b", mac: Self.b, mtu: 65535), on: fabric, directory: directory)
        let pc = try PortFixture(NetPortPolicy(name: "c", mac: Self.c, mtu: 65535), on: fabric, directory: directory)
        _ = pc
        let total = 1000, size = jumbo * 7   // 63000-byte frames: 256 of them would be 16 MB
        let received = try flood(from: pa, to: pb, frames: total, size: size, window: 8)
        #expect(received.count == total)
        let c = pc.port.counters
        #expect(c.peakBacklogBytes <= FrameInbox.perSenderByteLimit, "\(c)")
        #expect(c.backlogBytes > FrameInbox.perSenderByteLimit - size, "the share is used, not empty: \(c)")
        #expect(c.droppedBacklog == total - c.backlogFrames, "\(c)")
    }

    @Test("a receiver that keeps up only just never empties its inbox, and the inbox does not grow")
    func inboxCompactsWhileNeverEmpty() {
        let inbox = FrameInbox()
        let frame = [UInt8](repeating: 1, count: 100)
        for _ in 0..<10 { #expect(inbox.put(frame, from: 1)) }
        for _ in 0..<100_000 {
            _ = inbox.put(frame, from: 1)
            _ = inbox.take()
        }
        #expect(inbox.depth.frames == 10 && inbox.depth.bytes == 1000)
        #expect(inbox.retainedSlots <= 2 * 64 + 10, "consumed slots are let go: \(inbox.retainedSlots)")
    }
}
