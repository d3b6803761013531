import AVPTestSupport
@testable import Devices
import Foundation
import Logging
import SystemCalls
import Testing

/// A host process that accepts a guest's connection and never reads: what the vsock server
/// buffers for it is bounded by the buffer allocation it announced (VIRTIO 1.2 §5.10.6.3), for
/// a guest that honours credit (it stops) and one that does not (its stream is reset).
@Suite(.serialized) struct VsockCredit {
    let directory: String
    init() throws { directory = try vsockScratchDirectory() }

    /// A guest driver's view of one stream's credit: what the peer announced and what was sent.
    struct Credit {
        var bufferAllocation: UInt32 = 0
        var forwardCount: UInt32 = 0
        var sent: UInt32 = 0
        var available: Int { Int(bufferAllocation) - Int(sent &- forwardCount) }
        mutating func heard(_ packet: VsockPacket) {
            bufferAllocation = packet.bufferAllocation
            forwardCount = packet.forwardCount
        }
    }

    /// Packets waiting for the guest, taken without waiting long; receive buffers reposted.
    func drain(_ vm: VsockFixture, into credit: inout Credit, waitMilliseconds: Int = 20) throws -> [VsockPacket] {
        let packets = try vm.receive(1, timeoutMilliseconds: waitMilliseconds)
        for p in packets { credit.heard(p) }
        if !packets.isEmpty { try vm.post(packets.count) }
        return packets
    }

    /// Opens guest port 1000 → CID 2 port 5000; returns the host process's end (which never reads) and the credit.
    func open(_ vm: VsockFixture, listener: UnixListener) throws -> (NonBlockingStream, Credit) {
        try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .request))
        var credit = Credit()
        let response = try #require(try vm.receive().first)
        try vm.post(1)
        #expect(response.op == .response)
        credit.heard(response)
        let peer = try NonBlockingStream(adopting: try #require(try listener.accept(waitingMilliseconds: 3000)))
        return (peer, credit)
    }

    /// A guest with 32 receive buffers posted whose port 1000 is connected to a host process on CID 2 port 5000.
    /// The listener is closed once it has accepted; the stream stays.
    func connected() throws -> (VsockFixture, NonBlockingStream, Credit) {
        let vm = try VsockFixture(cid: 3, router: VsockRouter(allowedPairs: []), directory: directory)
        try vm.post(32)
        let listener = try UnixListener(path: VsockFixture.hostSocket(3, in: directory) + "_5000")
        let (peer, credit) = try open(vm, listener: listener)
        return (vm, peer, credit)
    }

    /// Sends as long as the credit allows, asking for an update when it runs out; returns when
    /// no more credit comes. `chunk` bytes per packet, numbered so the host can check the order.
    func sendWithinCredit(_ vm: VsockFixture, _ credit: inout Credit, chunk: Int = 16 * 1024) throws -> [UInt8] {
        var stream: [UInt8] = []
        while true {
            if credit.available > 0 {
                let count = min(chunk, credit.available)
                let payload = (0..<count).map { UInt8(truncatingIfNeeded: (Int(credit.sent) + $0) / 7) }
                try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: payload))
                credit.sent &+= UInt32(count)
                stream += payload
                _ = try drain(vm, into: &credit, waitMilliseconds: 0)
                continue
            }
            try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .creditRequest))
            let before = credit.forwardCount
            _ = try drain(vm, into: &credit, waitMilliseconds: 1000)
            if credit.forwardCount == before { return stream }   // the host takes nothing more
        }
    }

    func readAll(_ s: NonBlockingStream, count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        let deadline = MonotonicClock.seconds() + 5
        while bytes.count < count, MonotonicClock.seconds() < deadline {
            switch try s.receive(upTo: 65536) {
            case let .received(b): bytes += b
            case .endOfStream: return bytes
            case .wouldBlock: MonotonicClock.sleep(milliseconds: 2)
            }
        }
        return bytes
    }

    @Test("AVPS-v2.0-16/30: a guest honouring credit stops at buf_alloc against a host process that never reads; the server holds at most buf_alloc")
    func honouredCreditBoundsTheServer() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (vm, peer, opened) = try connected()
        var credit = opened
        let allocation = Int(VsockDevice.bufferAllocation)
        #expect(credit.bufferAllocation == VsockDevice.bufferAllocation)

        let sent = try sendWithinCredit(vm, &credit)
        // The guest stopped because the credit ran out: the server holds exactly buf_alloc, the
        // rest sits in the host socket's own buffer (the kernel's bound, not AVP's).
        #expect(credit.available == 0)
        #expect(sent.count > allocation, "the host socket took some before it filled: \(sent.count)")
        #expect(Int(credit.sent &- credit.forwardCount) == allocation)
        #expect(vm.device.heldForHost.now == allocation, "\(vm.device.heldForHost)")
        #expect(vm.device.heldForHost.peak <= allocation, "\(vm.device.heldForHost)")

        // Once the host process reads, every byte arrives in order and the guest gets its credit back.
        #expect(try readAll(peer, count: sent.count) == sent)
        var updated = false
        let deadline = MonotonicClock.seconds() + 3
        while !updated, MonotonicClock.seconds() < deadline {
            updated = try drain(vm, into: &credit, waitMilliseconds: 100).contains { $0.op == .creditUpdate } && credit.available > 0
        }
        #expect(updated, "a CREDIT_UPDATE once the host took the server's bytes")
        #expect(vm.device.heldForHost.now == 0)
        #expect(vm.device.heldForHost.peak <= allocation)
        peer.shutdown()
    }

    @Test("AVPS-v2.0-16/30: a guest ignoring credit against a host process that never reads is reset; the server never holds more than buf_alloc")
    func ignoredCreditIsReset() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (vm, peer, opened) = try connected()
        var credit = opened
        let allocation = Int(VsockDevice.bufferAllocation)

        // 8 MiB regardless of credit: the server must not buffer it.
        var answers: [VsockPacket.Operation?] = []
        for _ in 0..<128 where !answers.contains(.reset) {
            try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: [UInt8](repeating: 9, count: 64 * 1024)))
            answers += try drain(vm, into: &credit, waitMilliseconds: 0).map(\.op)
        }
        let deadline = MonotonicClock.seconds() + 3
        while !answers.contains(.reset), MonotonicClock.seconds() < deadline {
            answers += try drain(vm, into: &credit, waitMilliseconds: 100).map(\.op)
        }
        #expect(answers.contains(.reset), "\(answers)")
        #expect(vm.device.heldForHost.peak <= allocation, "\(vm.device.heldForHost)")
        #expect(vm.device.heldForHost.now == 0, "the reset connection's bytes are let go")
        // The host process sees its stream end after what the socket took.
        var ended = false
        let end = MonotonicClock.seconds() + 3
        while !ended, MonotonicClock.seconds() < end {
            switch try peer.receive(upTo: 1 << 20) {
            case .endOfStream: ended = true
            case .received: break
            case .wouldBlock: MonotonicClock.sleep(milliseconds: 5)
            }
        }
        #expect(ended)
        // More data on the reset stream is refused, not buffered.
        try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: [1]))
        #expect(try drain(vm, into: &credit, waitMilliseconds: 2000).map(\.op).contains(.reset))
        #expect(vm.device.heldForHost.now == 0)
    }

    @Test("AVPS-v2.0-30: connections beyond the limit are refused, so credit bounds the device's total; one closing makes room")
    func connectionLimitBoundsTheTotal() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = VsockFixture.hostSocket(3, in: directory)
        let muxer = try VsockUnixMuxer(guestCID: 3, path: path, logger: Logger(label: "test.vsock"), connectionLimit: 3)
        let vm = try VsockFixture(cid: 3, router: VsockRouter(allowedPairs: []), directory: directory, hostSide: muxer)
        try vm.post(32)
        let listener = try UnixListener(path: path + "_5000")
        func request(from port: UInt32) throws -> VsockPacket.Operation? {
            try vm.send(vm.packet(to: 2, port: 5000, from: port, .request))
            let answer = try vm.receive().first
            try vm.post(1)
            return answer?.op
        }
        #expect(try (1...3).map { try request(from: UInt32($0)) } == [.response, .response, .response])
        #expect(try request(from: 4) == .reset, "the fourth is one too many")
        // The host process ends one; the guest answers the SHUTDOWN with RST, and the slot is free.
        let first = try #require(try listener.accept(waitingMilliseconds: 3000))
        first.shutdown()
        let shutdown = try vm.receive().first
        try vm.post(1)
        #expect(shutdown?.op == .shutdown && shutdown?.destinationPort == 1)
        try vm.send(vm.packet(to: 2, port: 5000, from: 1, .reset))
        #expect(try request(from: 5) == .response)
    }
}
