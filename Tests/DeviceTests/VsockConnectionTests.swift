import Devices
import Testing

/// The vsock connection state machine on its own: guest packets and host events in, packets
/// for the guest and host actions out (VIRTIO 1.2 §5.10.6.3 credit, §5.10.6.5 stream life).
@Suite struct VsockConnectionStateMachine {
    static let guestCID: UInt64 = 3
    static let guestPort: UInt32 = 1234
    static let hostPort: UInt32 = 5000

    /// A packet from the guest on the test connection.
    static func fromGuest(_ op: VsockPacket.Operation, flags: UInt32 = 0, bufferAllocation: UInt32 = 65536, forwardCount: UInt32 = 0,
                          payload: [UInt8] = []) -> VsockPacket {
        VsockPacket(sourceCID: guestCID, destinationCID: VsockPacket.hostCID, sourcePort: guestPort, destinationPort: hostPort,
                    operation: op, flags: flags, bufferAllocation: bufferAllocation, forwardCount: forwardCount, payload: payload)
    }

    /// A guest-initiated connection, its RESPONSE already taken.
    static func established(guestBuffer: UInt32 = 65536) -> VsockConnection {
        var c = VsockConnection(accepting: fromGuest(.request, bufferAllocation: guestBuffer))
        _ = c.nextPacket(maxPayload: 0)
        return c
    }

    /// Every packet the connection has for the guest now.
    static func drain(_ c: inout VsockConnection, maxPayload: Int = 1 << 20) -> [VsockPacket] {
        var out: [VsockPacket] = []
        while c.hasPacket, let p = c.nextPacket(maxPayload: maxPayload) { out.append(p) }
        #expect(c.nextPacket(maxPayload: maxPayload) == nil, "hasPacket false but a packet was left")
        return out
    }

    static func bytes(_ count: Int, _ value: UInt8 = 0x61) -> [UInt8] { [UInt8](repeating: value, count: count) }

    @Test("AVPS-v2.0-16: a guest's REQUEST is answered by RESPONSE from CID 2 with AVP's buffer space")
    func guestInitiated() {
        var c = VsockConnection(accepting: Self.fromGuest(.request))
        #expect(c.phase == .established)
        let out = Self.drain(&c)
        #expect(out.count == 1)
        let r = out[0]
        #expect(r.op == .response && r.sourceCID == VsockPacket.hostCID && r.destinationCID == Self.guestCID)
        #expect(r.sourcePort == Self.hostPort && r.destinationPort == Self.guestPort)
        #expect(r.bufferAllocation == VsockConnection.defaultBufferAllocation && r.forwardCount == 0)
    }

    @Test("AVPS-v2.0-16: a host-initiated connection sends REQUEST, holds the host's first bytes until RESPONSE, then says connected")
    func hostInitiated() {
        let key = VsockConnection.Key(guestPort: Self.guestPort, hostPort: Self.hostPort)
        var c = VsockConnection(guestCID: Self.guestCID, key: key, firstBytes: Array("hi".utf8))
        #expect(Self.drain(&c).map(\.op) == [.request])
        #expect(c.hostReadLimit == 0, "nothing is read from the host before the guest accepts")
        c.receive(Self.fromGuest(.readWrite, payload: [1]))
        #expect(c.phase == .closed, "data before RESPONSE breaks the protocol")
        #expect(Self.drain(&c).map(\.op) == [.reset])

        var d = VsockConnection(guestCID: Self.guestCID, key: key, firstBytes: Array("hi".utf8))
        _ = Self.drain(&d)
        d.receive(Self.fromGuest(.response))
        #expect(d.takeHostActions() == .connected)
        #expect(d.takeHostActions() == [], "actions are handed over once")
        let out = Self.drain(&d)
        #expect(out.map(\.op) == [.readWrite] && out.first?.payload == Array("hi".utf8))
    }

    @Test("AVPS-v2.0-16: data to the guest stops at buf_alloc - (tx_cnt - fwd_cnt) and resumes after a CREDIT_UPDATE")
    func creditExhaustion() {
        var c = Self.established(guestBuffer: 1000)
        #expect(c.hostReadLimit == 1000)
        c.hostSent(Self.bytes(600))
        #expect(Self.drain(&c).map(\.payload.count) == [600])
        #expect(c.hostReadLimit == 400)
        c.hostSent(Self.bytes(400))
        // Split by the receive buffer's room, never beyond the credit.
        #expect(Self.drain(&c, maxPayload: 300).map(\.payload.count) == [300, 100])
        #expect(c.guestCredit == 0 && c.hostReadLimit == 0 && !c.hasPacket)

        // The guest consumed 600 bytes.
        c.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 1000, forwardCount: 600))
        #expect(c.guestCredit == 600 && c.hostReadLimit == 600)

        // Staged data beyond a credit that shrank waits for the next update.
        c.hostSent(Self.bytes(600))
        c.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 500, forwardCount: 600))
        #expect(Self.drain(&c).map(\.payload.count) == [100])
        #expect(c.fromHost.count == 500 && !c.hasPacket)
        c.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 1000, forwardCount: 1100))
        #expect(Self.drain(&c).map(\.payload.count) == [500])
        #expect(c.sentToGuest == 1600)
    }

    @Test("AVPS-v2.0-16: the guest may send only what AVP announced; beyond its credit the stream is reset")
    func guestBeyondCredit() {
        var c = Self.established()
        let limit = Int(VsockConnection.defaultBufferAllocation)
        c.receive(Self.fromGuest(.readWrite, payload: Self.bytes(limit - 10)))
        #expect(c.toHost.count == limit - 10 && c.phase == .established)
        c.receive(Self.fromGuest(.readWrite, payload: Self.bytes(11)))
        #expect(c.phase == .closed && c.violation != nil)
        #expect(c.takeHostActions().contains(.close))
        #expect(c.toHost.isEmpty)
        #expect(Self.drain(&c).map(\.op) == [.reset])
    }

    @Test("AVPS-v2.0-16: AVP's fwd_cnt tracks what the host took; CREDIT_UPDATE when a quarter is freed and on CREDIT_REQUEST")
    func forwardCount() {
        var c = Self.established()
        let quarter = Int(VsockConnection.defaultBufferAllocation / 4)
        c.receive(Self.fromGuest(.readWrite, payload: Self.bytes(quarter)))
        c.hostTook(quarter - 1)
        #expect(c.forwardCount == UInt32(quarter - 1) && !c.hasPacket)
        c.hostTook(1)
        let update = Self.drain(&c)
        #expect(update.map(\.op) == [.creditUpdate] && update.first?.forwardCount == UInt32(quarter))
        c.receive(Self.fromGuest(.creditRequest))
        #expect(Self.drain(&c).map(\.op) == [.creditUpdate])
        // More than was offered is never counted.
        c.hostTook(10)
        #expect(c.forwardCount == UInt32(quarter))
    }

    @Test("AVPS-v2.0-16: a guest RST closes the connection; nothing more is sent to the guest or read from the host")
    func peerReset() {
        var c = Self.established()
        c.hostSent(Self.bytes(100))
        c.receive(Self.fromGuest(.creditRequest))
        c.receive(Self.fromGuest(.reset))
        #expect(c.phase == .closed && c.violation == nil)
        #expect(c.takeHostActions() == .close)
        #expect(!c.hasPacket && c.nextPacket(maxPayload: 4096) == nil, "no RST answers a RST, and staged data is dropped")
        c.hostSent(Self.bytes(10))
        c.receive(Self.fromGuest(.readWrite, payload: [1]))
        c.hostEnded()
        #expect(c.hostReadLimit == 0 && !c.hasPacket && c.toHost.isEmpty && c.takeHostActions() == [])
    }

    @Test("AVPS-v2.0-16: SHUTDOWN with only SEND ends the host's input after what was sent; the host can still send")
    func halfCloseSend() {
        var c = Self.established()
        c.receive(Self.fromGuest(.readWrite, payload: Self.bytes(100)))
        c.receive(Self.fromGuest(.shutdown, flags: VsockPacket.shutdownSend))
        #expect(c.takeHostActions() == [], "the host gets its end of stream only after the data")
        c.hostTook(60)
        #expect(c.takeHostActions() == [])
        c.hostTook(40)
        #expect(c.takeHostActions() == .shutdownWrite)
        // The other direction keeps working.
        #expect(c.phase == .established && c.hostReadLimit > 0)
        c.hostSent(Array("reply".utf8))
        #expect(Self.drain(&c).map(\.payload) == [Array("reply".utf8)])
        // Sending after shutting down the sending side breaks the protocol.
        c.receive(Self.fromGuest(.readWrite, payload: [1]))
        #expect(c.phase == .closed && Self.drain(&c).map(\.op) == [.reset])
    }

    @Test("AVPS-v2.0-16: SHUTDOWN with only RCV stops data to the guest; the guest can still send")
    func halfCloseReceive() {
        var c = Self.established()
        c.hostSent(Self.bytes(100))
        c.receive(Self.fromGuest(.shutdown, flags: VsockPacket.shutdownReceive))
        #expect(c.takeHostActions() == .shutdownRead)
        #expect(!c.hasPacket && c.hostReadLimit == 0, "staged data is dropped, nothing more is read")
        c.hostSent(Self.bytes(10))
        #expect(c.fromHost.isEmpty)
        c.receive(Self.fromGuest(.readWrite, payload: Array("more".utf8)))
        #expect(c.phase == .established && c.toHost == Array("more".utf8))
        c.hostTook(4)
        // The flags are permanent: a later SHUTDOWN without flags changes nothing (§5.10.6.5).
        c.receive(Self.fromGuest(.shutdown, flags: 0))
        #expect(c.guestShutdown == VsockPacket.shutdownReceive && c.phase == .established)
    }

    @Test("AVPS-v2.0-16: SHUTDOWN both ways, in one packet or two, is answered by RST once the host took the guest's data")
    func fullShutdown() {
        var c = Self.established()
        c.receive(Self.fromGuest(.readWrite, payload: Self.bytes(10)))
        c.receive(Self.fromGuest(.shutdown, flags: VsockPacket.shutdownReceive | VsockPacket.shutdownSend))
        #expect(c.phase == .established && !c.hasPacket, "data for the host is not lost")
        c.hostTook(10)
        #expect(c.phase == .closed && c.violation == nil && c.takeHostActions().contains(.close))
        #expect(Self.drain(&c).map(\.op) == [.reset])

        var d = Self.established()
        d.receive(Self.fromGuest(.shutdown, flags: VsockPacket.shutdownSend))
        #expect(d.takeHostActions() == .shutdownWrite)
        d.receive(Self.fromGuest(.shutdown, flags: VsockPacket.shutdownReceive))
        #expect(d.phase == .closed && Self.drain(&d).map(\.op) == [.reset])
    }

    @Test("AVPS-v2.0-16: the host's end of stream reaches the guest as SHUTDOWN after the data read before it")
    func hostEnds() {
        var c = Self.established(guestBuffer: 100)
        c.hostSent(Self.bytes(150))
        c.hostEnded()
        #expect(Self.drain(&c).map(\.op) == [.readWrite], "SHUTDOWN waits behind data the guest has no room for")
        c.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 100, forwardCount: 100))
        let out = Self.drain(&c)
        #expect(out.map(\.op) == [.readWrite, .shutdown])
        #expect(out.last?.flags == VsockPacket.shutdownReceive | VsockPacket.shutdownSend)
        c.hostEnded()
        #expect(!c.hasPacket, "one SHUTDOWN")
        #expect(c.phase == .established, "the connection lasts until the guest resets it")
        c.receive(Self.fromGuest(.reset))
        #expect(c.phase == .closed && !c.hasPacket)
    }

    @Test("AVPS-v2.0-16: absurd buf_alloc and fwd_cnt from the guest never trap and never let more than one read out at a time")
    func hostileCredit() {
        // A huge buffer: reads stay bounded.
        var c = Self.established(guestBuffer: UInt32.max)
        #expect(c.hostReadLimit == VsockConnection.readLimit)
        c.hostSent(Self.bytes(VsockConnection.readLimit))
        #expect(Self.drain(&c, maxPayload: 4096).count == VsockConnection.readLimit / 4096)

        // fwd_cnt beyond what was sent: no credit, rather than a wrapped-around huge one.
        var d = Self.established(guestBuffer: 1000)
        d.hostSent(Self.bytes(100))
        _ = Self.drain(&d)
        d.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 1000, forwardCount: 101))
        #expect(d.guestCredit == 0 && d.hostReadLimit == 0)
        // The counters are free-running: fwd_cnt 2^32-1 after 100 sent reads as 101 in flight (wrapped), not as a trap.
        d.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 1000, forwardCount: UInt32.max))
        #expect(d.guestCredit == 899)
        // fwd_cnt going backwards: the credit shrinks, nothing breaks; the truth restores it.
        d.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 1000, forwardCount: 50))
        #expect(d.guestCredit == 950)
        d.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 1000, forwardCount: 0))
        #expect(d.guestCredit == 900)
        d.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 0, forwardCount: 100))
        #expect(d.guestCredit == 0)
        d.receive(Self.fromGuest(.creditUpdate, bufferAllocation: 1000, forwardCount: 100))
        #expect(d.guestCredit == 1000)
    }

    @Test("AVPS-v2.0-16: packets whose ports, CIDs or type are not the connection's change nothing")
    func mismatchedAddresses() {
        var c = Self.established(guestBuffer: 1000)
        func variants() -> [VsockPacket] {
            let base = Self.fromGuest(.readWrite, bufferAllocation: 0, forwardCount: 0, payload: [1, 2, 3])
            var a = base; a.sourcePort += 1
            var b = base; b.destinationPort += 1
            var d = base; d.sourceCID = 4
            var e = base; e.destinationCID = 5
            var f = base; f.type = 2
            var g = Self.fromGuest(.reset); g.sourcePort += 1
            return [a, b, d, e, f, g]
        }
        for p in variants() {
            #expect(!c.matches(p))
            c.receive(p)
        }
        #expect(c.phase == .established && c.toHost.isEmpty && c.guestBufferAllocation == 1000 && c.takeHostActions() == [])
    }
}

extension VsockConnectionStateMachine {
    @Test("no room for a payload gives no data packet (an empty RW would come back for ever; found by fuzz/run vsock)")
    func noRoomNoEmptyReadWrite() throws {
        var c = Self.established()
        c.hostSent([1, 2, 3])
        for _ in 0..<3 { #expect(c.nextPacket(maxPayload: 0) == nil) }
        #expect(c.nextPacket(maxPayload: 2)?.payload == [1, 2])
    }
}
