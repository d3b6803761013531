// libFuzzer target: a hostile guest against AVP's vsock packet handling (VIRTIO 1.2 §5.10.6).
// Every input goes through three phases:
//   A. `VsockPacket.parse` of the raw bytes (after the first) as header + payload: round trip, RST answers.
//   B. (first byte even) one `VsockConnection`, accepting a guest REQUEST or asked for by a host
//      process, driven by a decoded sequence of guest packets (fuzzer-chosen op, flags, buf_alloc,
//      fwd_cnt, addresses, payload sizes) and host-side events (hostSent, hostTook with absurd counts,
//      hostEnded, hostFailed, takeHostActions, nextPacket with any maxPayload), checked after every
//      step against a model of what it was given: credit both ways, the bytes in order, a closed
//      connection's single RST, host actions once each, and a bounded number of packets without input.
//   C. (first byte odd) two `VsockDevice`s (CIDs 3 and 4, a pair the router allows) on rings laid out
//      in-process with AVPTestSupport's `DriverRing`, as BlockRequestFuzz drives the block device
//      (the vhost-user `GuestDriver` needs a server thread and socket per run: too slow and not
//      deterministic for a fuzzer). Device 3's host side is `ModelHostSide`, the Unix-socket muxer's
//      bookkeeping over `VsockConnection`s without sockets. The guest sends packets on tx, posts
//      receive buffers of any size and shape; every used buffer is matched against what the device
//      must have put there (its RST answers, the host side's packets, packets forwarded to the peer).
// Seeds: fuzz/seeds/vsock (fuzz/seeds/make-vsock-seeds). Build and run: fuzz/run vsock
import AVPTestSupport
import Devices
import Glibc
import GuestMemory
import Logging
import SystemCalls
import Virtio

private typealias Key = VsockConnection.Key
private typealias Actions = VsockConnection.HostActions
private let headerSize = VsockPacket.headerSize
private let shutdownBoth = VsockPacket.shutdownReceive | VsockPacket.shutdownSend

/// A broken invariant: the fuzzer reports the input.
private func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, line: UInt = #line) {
    if !condition() { fatalError("vsock invariant broken: \(message())", line: line) }
}

/// VSOCK_FUZZ_TRACE=1 in the environment: every step and packet on stderr (to read a crashing input).
private let tracing = getenv("VSOCK_FUZZ_TRACE") != nil
private func trace(_ line: @autoclosure () -> String) {
    guard tracing else { return }
    let text = Array("vsock: \(line())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
private func describe(_ p: VsockPacket?) -> String {
    guard let p else { return "nil" }
    let name = p.op.map { "\($0)" } ?? "op \(p.operation)"
    return "\(name) \(p.sourceCID):\(p.sourcePort)->\(p.destinationCID):\(p.destinationPort) type \(p.type) flags \(p.flags) "
        + "buf \(p.bufferAllocation) fwd \(p.forwardCount) len \(p.payload.count)"
}

/// Byte `i` of what the host processes write, and of what the guest sends: position-dependent, so
/// bytes lost, repeated or reordered show.
private func hostByte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: (UInt64(i) &* 0x9E37_79B9_7F4A_7C15) >> 56) }
private func guestByte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: (UInt64(i) &* 0xC2B2_AE3D_27D4_EB4F) >> 56) }
// Both streams repeat every `period` bytes (2^17 - 1, a prime), so that runs of them are slices of
// precomputed tables: the target is built without optimisation, where a byte-by-byte loop is slow.
private let period = 131_071
private let hostTable = (0..<period + 131_072).map { hostByte($0 % period) }
private let guestTable = (0..<period + 131_072).map { guestByte($0 % period) }
private func hostBytes(_ start: Int, _ count: Int) -> [UInt8] {
    precondition(count <= 131_072)
    return Array(hostTable[start % period..<start % period + count])
}
private func guestBytes(_ start: Int, _ count: Int) -> [UInt8] {
    precondition(count <= 131_072)
    return Array(guestTable[start % period..<start % period + count])
}

/// Array equality by memcmp (the synthesized one goes byte by byte in a debug build).
private func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
}

/// Packet equality: every header field and the payload.
private func samePacket(_ a: VsockPacket?, _ b: VsockPacket?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case let (a?, b?): return sameBytes(a.header, b.header) && sameBytes(a.payload, b.payload)
    default: return false
    }
}

/// Whether `bytes` are the stream bytes `start..<start + bytes.count`, looking at both ends (every byte
/// when short): cheap enough for every step.
private func isStream(_ bytes: [UInt8], from start: Int, _ f: (Int) -> UInt8) -> Bool {
    let n = bytes.count
    let probes = n <= 64 ? Array(0..<n) : Array(0..<32) + Array(n - 32..<n)
    return probes.allSatisfy { bytes[$0] == f((start + $0) % period) }
}

/// A maxPayload as a caller might pass it: zero, negative, huge, a buffer's room.
private func chooseMaxPayload(_ input: inout FuzzBytes) -> Int {
    switch input.u8() % 8 {
    case 0: return 0
    case 1: return -1
    case 2: return Int.min
    case 3: return Int.max
    case 4: return Int(input.u8())
    case 5: return Int(input.u16())
    case 6: return 4096 - headerSize
    default: return 1
    }
}

// MARK: A. Header parsing

private func fuzzParsing(_ bytes: [UInt8]) {
    check(VsockPacket.parse(header: Array(bytes.prefix(headerSize - 1))) == nil, "a header shorter than 44 bytes parsed")
    guard let (parsed, length) = VsockPacket.parse(header: bytes) else {
        check(bytes.count < headerSize, "a \(bytes.count)-byte header did not parse")
        return
    }
    check(bytes.count >= headerSize && parsed.payload.isEmpty, "parse made up bytes")
    check(parsed.op == VsockPacket.Operation(rawValue: parsed.operation), "op disagrees with the operation field")
    var packet = parsed
    packet.payload = Array(bytes[headerSize..<headerSize + min(bytes.count - headerSize, Int(length))])
    var expected = Array(bytes[0..<headerSize])
    for i in 0..<4 { expected[24 + i] = UInt8(truncatingIfNeeded: packet.payload.count >> (8 * i)) }
    check(packet.header == expected, "the header does not round-trip")
    guard let (again, againLength) = VsockPacket.parse(header: packet.header + packet.payload) else {
        fatalError("vsock invariant broken: a header written by VsockPacket does not parse")
    }
    var reparsed = again
    reparsed.payload = packet.payload
    check(reparsed == packet && againLength == UInt32(packet.payload.count), "parse(header) is not the inverse of header")
    let reset = VsockPacket.reset(answering: packet)
    check(reset.sourceCID == packet.destinationCID && reset.destinationCID == packet.sourceCID
          && reset.sourcePort == packet.destinationPort && reset.destinationPort == packet.sourcePort
          && reset.op == .reset && reset.type == VsockPacket.typeStream && reset.flags == 0
          && reset.bufferAllocation == 0 && reset.forwardCount == 0 && reset.payload.isEmpty, "a RST that does not answer its packet")
}

// MARK: B. One connection

/// What is visible of a connection, its pending actions and next packets included (peeked on copies:
/// the connection is a value), to check that an input changed nothing.
private struct Snapshot: Equatable {
    var phase: VsockConnection.Phase
    var guestShutdown: UInt32
    var hostStreamEnded: Bool
    var violation: String?
    var counters: [UInt32]
    var fromHost: [UInt8]
    var toHost: [UInt8]
    var hasPacket: Bool
    var hostReadLimit: Int
    var guestCredit: Int
    var pendingActions: UInt8
    var next: VsockPacket?
    var nextWithoutRoom: VsockPacket?

    static func == (a: Snapshot, b: Snapshot) -> Bool {
        a.phase == b.phase && a.guestShutdown == b.guestShutdown && a.hostStreamEnded == b.hostStreamEnded && a.violation == b.violation
            && a.counters == b.counters && sameBytes(a.fromHost, b.fromHost) && sameBytes(a.toHost, b.toHost) && a.hasPacket == b.hasPacket
            && a.hostReadLimit == b.hostReadLimit && a.guestCredit == b.guestCredit && a.pendingActions == b.pendingActions
            && samePacket(a.next, b.next) && samePacket(a.nextWithoutRoom, b.nextWithoutRoom)
    }

    init(_ c: VsockConnection) {
        phase = c.phase
        guestShutdown = c.guestShutdown
        hostStreamEnded = c.hostStreamEnded
        violation = c.violation
        counters = [c.guestBufferAllocation, c.guestForwardCount, c.sentToGuest, c.forwardCount]
        fromHost = c.fromHost
        toHost = c.toHost
        hasPacket = c.hasPacket
        hostReadLimit = c.hostReadLimit
        guestCredit = c.guestCredit
        var copy = c
        pendingActions = copy.takeHostActions().rawValue
        copy = c
        next = copy.nextPacket(maxPayload: .max)
        copy = c
        nextWithoutRoom = copy.nextPacket(maxPayload: 0)
    }
}

/// What the checks need of a connection before an input. Not a copy of it: a copy would share its
/// byte arrays and make every change to them a full copy (slow with 64 KiB staged and small packets).
/// The full snapshot is taken only where the input must change nothing.
private struct Before {
    let hasPacket: Bool
    let phase: VsockConnection.Phase
    let guestShutdown: UInt32
    let guestCredit: Int
    let fromHostCount: Int
    let toHostCount: Int
    let snapshot: Snapshot?

    init(_ c: VsockConnection, snapshot: Bool) {
        hasPacket = c.hasPacket
        phase = c.phase
        guestShutdown = c.guestShutdown
        guestCredit = c.guestCredit
        fromHostCount = c.fromHost.count
        toHostCount = c.toHost.count
        self.snapshot = snapshot ? Snapshot(c) : nil
    }

    /// The connection is as it was (a snapshot was taken).
    func unchanged(_ c: VsockConnection) -> Bool { snapshot! == Snapshot(c) }
}

/// A connection and the model of everything it was given and gave.
private struct ConnectionRun {
    var c: VsockConnection
    let accepting: Bool
    var phase: VsockConnection.Phase
    var guestShutdown: UInt32 = 0
    // The two byte streams: what the host wrote (kept by the connection), what the guest sent (accepted), what the host took.
    var hostSeq = 0
    var guestSeq = 0
    var tookSeq = 0
    // Counters as the connection must have them, and the fwd_cnt the guest last heard.
    var sentToGuest: UInt32 = 0
    var forwardCount: UInt32 = 0
    var lastAnnounced: UInt32 = 0
    var packetsOut = 0
    var resets = 0
    var shutdownSent = false
    var hostEndedWhileOpen = false
    var guestReset = false
    var acceptedByGuest = false
    var seen: Actions = []

    init(_ input: inout FuzzBytes) {
        let config = input.u8()
        accepting = config & 1 == 0
        let allocation: UInt32
        switch (config >> 1) & 3 {
        case 0: allocation = VsockConnection.defaultBufferAllocation
        case 1: allocation = UInt32(input.u8())
        case 2: allocation = UInt32(input.u16())
        default: allocation = input.u32()
        }
        let cid: UInt64 = config & 8 != 0 ? input.u64() : 3
        let key = config & 16 != 0 ? Key(guestPort: input.u32(), hostPort: input.u32()) : Key(guestPort: 1234, hostPort: 5000)
        if accepting {
            let request = VsockPacket(sourceCID: cid, destinationCID: VsockPacket.hostCID, sourcePort: key.guestPort,
                                      destinationPort: key.hostPort, operation: .request,
                                      bufferAllocation: input.u32(), forwardCount: input.u32())
            c = VsockConnection(accepting: request, bufferAllocation: allocation)
            check(c.phase == .established && c.guestBufferAllocation == request.bufferAllocation
                  && c.guestForwardCount == request.forwardCount && c.hasPacket, "accepting a REQUEST")
        } else {
            let first = config & 32 != 0 ? VsockConnection.readLimit - 128 + Int(input.u8()) : Int(input.u8())
            c = VsockConnection(guestCID: cid, key: key, firstBytes: hostBytes(0, first), bufferAllocation: allocation)
            hostSeq = min(first, VsockConnection.readLimit)
            check(c.phase == .connecting && c.fromHost.count == hostSeq && c.hasPacket, "a host-initiated connection")
        }
        check(c.bufferAllocation == allocation && c.guestCID == cid && c.key == key, "the connection's identity")
        phase = c.phase
        invariants()
    }

    mutating func run(_ input: inout FuzzBytes) {
        var steps = 0
        while !input.isEmpty, steps < 256 {
            steps += 1
            switch input.u8() % 16 {
            case 0...5: guestPacket(&input)
            case 6, 7: hostSent(&input)
            case 8, 9: hostTook(&input)
            case 10: hostEnded()
            case 11: hostFailed()
            case 12: takeActions()
            case 13:
                let maxPayload = chooseMaxPayload(&input)
                let before = Before(c, snapshot: !c.hasPacket || maxPayload <= 0)
                let p = c.nextPacket(maxPayload: maxPayload)
                emitted(p, maxPayload: maxPayload, before: before)
            default: drain(maxPayload: chooseMaxPayload(&input))
            }
            trace("step \(steps): \(c.phase) toHost \(c.toHost.count) fromHost \(c.fromHost.count) credit \(c.guestCredit) "
                  + "shutdown \(c.guestShutdown) ended \(c.hostStreamEnded) hasPacket \(c.hasPacket) actions \(seen.rawValue)")
            invariants()
        }
        drain(maxPayload: 4096)
        takeActions()
        invariants()
    }

    // MARK: Inputs

    mutating func guestPacket(_ input: inout FuzzBytes) {
        let kind = input.u8()
        let fields = input.u8()
        let operation: UInt16 = kind & 8 != 0 ? input.u16() : UInt16(kind & 7)
        let flags = UInt32(kind >> 4)
        let allocation: UInt32
        switch fields & 3 {
        case 0: allocation = c.guestBufferAllocation
        case 1: allocation = input.u32()
        case 2: allocation = UInt32(input.u8())
        default: allocation = UInt32(input.u16())
        }
        let forward: UInt32
        switch (fields >> 2) & 3 {
        case 0: forward = c.sentToGuest                       // consumed everything
        case 1: forward = input.u32()
        case 2: forward = c.sentToGuest &- UInt32(input.u8())  // still reading
        default: forward = c.sentToGuest &+ UInt32(input.u8()) // claims more than it got
        }
        var packet = VsockPacket(sourceCID: c.guestCID, destinationCID: VsockPacket.hostCID, sourcePort: c.key.guestPort,
                                 destinationPort: c.key.hostPort, operation: .reset, flags: flags,
                                 bufferAllocation: allocation, forwardCount: forward)
        packet.operation = operation
        switch (fields >> 4) & 7 {
        case 1: packet.sourceCID &+= 1
        case 2: packet.destinationCID = UInt64(input.u8())
        case 3: packet.sourcePort &+= 1
        case 4: packet.destinationPort &+= 1
        case 5: packet.type = input.u16()
        default: break
        }
        let sizing = input.u8()
        let size: Int
        switch sizing & 3 {
        case 0: size = 0
        case 1: size = Int(sizing >> 2)
        case 2: size = max(0, min(70_000, Int(c.bufferAllocation) - c.toHost.count + Int(Int8(bitPattern: input.u8()))))
        default: size = Int(input.u16())
        }
        packet.payload = guestBytes(guestSeq, size)
        trace("guest sends \(describe(packet))")

        let ours = packet.type == VsockPacket.typeStream && packet.sourceCID == c.guestCID
            && packet.destinationCID == VsockPacket.hostCID && packet.sourcePort == c.key.guestPort
            && packet.destinationPort == c.key.hostPort
        check(c.matches(packet) == ours, "matches() disagrees with the address tuple")
        let inert = [nil, .request, .creditUpdate].contains(packet.op)
        let before = Before(c, snapshot: !ours || c.phase == .closed || inert)
        c.receive(packet)
        guard ours, before.phase != .closed else {
            check(before.unchanged(c), "a packet not for the connection, or after it closed, changed it")
            return
        }
        check(c.guestBufferAllocation == allocation && c.guestForwardCount == forward, "buf_alloc/fwd_cnt not taken from the packet")
        switch packet.op {
        case .readWrite:
            let room = Int(c.bufferAllocation) - before.toHostCount
            let allowed = before.phase == .established && before.guestShutdown & VsockPacket.shutdownSend == 0 && size <= room
            if allowed {
                check(c.phase == .established && c.toHost.count == before.toHostCount + size, "data within the credit refused")
                guestSeq += size
            } else {
                check(c.phase == .closed && c.violation != nil, "data the guest had no right to send accepted")
            }
        case .reset:
            check(c.phase == .closed && c.violation == nil, "a guest RST did not close the connection")
            guestReset = true
        case .response:
            if before.phase == .connecting {
                check(c.phase == .established, "RESPONSE did not establish")
                acceptedByGuest = true
            } else {
                check(c.phase == before.phase, "a late RESPONSE changed the phase")
            }
        case .shutdown:
            guestShutdown |= flags & shutdownBoth
            check(c.guestShutdown == guestShutdown, "SHUTDOWN flags not kept (they are permanent)")
        case .creditRequest:
            check(c.hasPacket, "CREDIT_REQUEST unanswered")
        case .request, .creditUpdate, .none:
            let was = before.snapshot!
            check(c.phase == was.phase && sameBytes(c.toHost, was.toHost) && sameBytes(c.fromHost, was.fromHost), "an inert packet changed the connection")
        }
    }

    mutating func hostSent(_ input: inout FuzzBytes) {
        // The host side reads no more than hostReadLimit (that is the contract; VsockUnixMuxer.fill).
        let wanted: Int
        switch input.u8() % 4 {
        case 0: wanted = Int(input.u8())
        case 1: wanted = Int(input.u16())
        case 2: wanted = Int.max
        default: wanted = c.hostReadLimit
        }
        let n = min(wanted, c.hostReadLimit)
        check(n >= 0, "negative hostReadLimit")
        let refused = c.phase == .closed || c.guestShutdown & VsockPacket.shutdownReceive != 0
        let before = Before(c, snapshot: refused)
        c.hostSent(hostBytes(hostSeq, n))
        if refused {
            check(before.unchanged(c), "bytes from the host kept after the guest stopped receiving")
        } else {
            check(c.fromHost.count == before.fromHostCount + n, "bytes from the host lost")
            hostSeq += n
        }
    }

    mutating func hostTook(_ input: inout FuzzBytes) {
        let count: Int
        switch input.u8() % 8 {
        case 0: count = Int(input.u8())
        case 1: count = c.toHost.count
        case 2: count = c.toHost.count + 1
        case 3: count = Int.max
        case 4: count = Int.min
        case 5: count = -1
        case 6: count = Int(input.u32())
        default: count = 0
        }
        let before = Before(c, snapshot: c.phase == .closed)
        c.hostTook(count)
        if before.phase == .closed {
            check(before.unchanged(c), "hostTook changed a closed connection")
            return
        }
        let n = min(max(0, count), before.toHostCount)
        tookSeq += n
        forwardCount &+= UInt32(n)
    }

    mutating func hostEnded() {
        let before = Before(c, snapshot: c.phase == .closed)
        c.hostEnded()
        if before.phase == .closed {
            check(before.unchanged(c), "hostEnded changed a closed connection")
        } else {
            check(c.hostStreamEnded && c.hostReadLimit == 0, "the host's end of stream not recorded")
            hostEndedWhileOpen = true
        }
    }

    mutating func hostFailed() {
        let before = Before(c, snapshot: c.phase == .closed)
        c.hostFailed()
        if before.phase == .closed {
            check(before.unchanged(c), "hostFailed changed a closed connection")
        } else {
            check(c.phase == .closed && c.hasPacket, "a failed host stream did not reset the guest's")
        }
    }

    mutating func takeActions() {
        let actions = c.takeHostActions()
        var copy = c
        check(copy.takeHostActions() == [], "actions handed over twice")
        check(seen.intersection(actions).isEmpty, "host action \(actions.rawValue) handed over again (seen \(seen.rawValue))")
        if actions.contains(.connected) { check(!accepting && acceptedByGuest, "connected without the guest's RESPONSE") }
        if actions.contains(.close) { check(c.phase == .closed, "close while open") }
        if actions.contains(.shutdownWrite) {
            check(guestShutdown & VsockPacket.shutdownSend != 0 && c.toHost.isEmpty, "end of stream for the host before the guest's data")
        }
        if actions.contains(.shutdownRead) { check(guestShutdown & VsockPacket.shutdownReceive != 0, "shutdownRead the guest did not ask for") }
        seen.formUnion(actions)
    }

    // MARK: Outputs

    /// Checks a packet `nextPacket(maxPayload:)` returned (or nil) against the connection before the call.
    mutating func emitted(_ p: VsockPacket?, maxPayload: Int, before: Before) {
        trace("nextPacket(maxPayload: \(maxPayload)) -> \(describe(p))")
        guard let p else {
            // Without room for a payload, pending data is rightly held back.
            check(!before.hasPacket || (maxPayload <= 0 && before.fromHostCount > 0), "hasPacket, but nextPacket(maxPayload: \(maxPayload)) gave nothing")
            check(before.unchanged(c), "a nextPacket that gave nothing changed the connection")
            return
        }
        check(before.hasPacket, "nextPacket gave a packet while hasPacket was false")
        check(resets == 0, "a packet after the RST")
        check(p.sourceCID == VsockPacket.hostCID && p.destinationCID == c.guestCID && p.sourcePort == c.key.hostPort
              && p.destinationPort == c.key.guestPort && p.type == VsockPacket.typeStream, "a packet misaddressed")
        if p.op != .readWrite { check(p.payload.isEmpty, "payload on a control packet") }
        if before.phase == .closed {
            check(p.op == .reset && p.flags == 0, "a closed connection sent \(p.operation)")
            check(!guestReset, "a RST answered the guest's RST")
            check(!c.hasPacket, "more owed after the RST")
            resets += 1
            packetsOut += 1
            return
        }
        switch p.op {
        case .request:
            check(!accepting && packetsOut == 0, "REQUEST not first, or on a connection the guest asked for")
        case .response:
            check(accepting && packetsOut == 0, "RESPONSE not first, or on a connection the host asked for")
        case .creditUpdate:
            break
        case .readWrite:
            let count = p.payload.count
            check(before.phase == .established && before.guestShutdown & VsockPacket.shutdownReceive == 0 && !shutdownSent,
                  "data to a guest that may not have it")
            check(count <= max(0, maxPayload), "\(count) bytes for maxPayload \(maxPayload)")
            check(count <= before.guestCredit, "\(count) bytes beyond the guest's credit \(before.guestCredit)")
            check(count <= before.fromHostCount, "data from nowhere")
            if maxPayload > 0 { check(count > 0, "an empty RW with room for data") }
            let start = hostSeq - before.fromHostCount
            check(sameBytes(p.payload, hostBytes(start, count)), "the host's bytes reordered or lost")
            sentToGuest &+= UInt32(count)
        case .shutdown:
            check(hostEndedWhileOpen && !shutdownSent && before.fromHostCount == 0 && p.flags == shutdownBoth,
                  "SHUTDOWN before the host ended or before its data, twice, or with flags \(p.flags)")
            shutdownSent = true
        case .reset, .creditRequest, .none:
            fatalError("vsock invariant broken: an open connection sent operation \(p.operation)")
        }
        check(p.bufferAllocation == c.bufferAllocation && p.forwardCount == c.forwardCount, "buf_alloc/fwd_cnt not current")
        lastAnnounced = p.forwardCount
        packetsOut += 1
    }

    /// Takes packets with no input in between until there are none. With room for data, how many
    /// there can be is bounded: one each of REQUEST/RESPONSE, CREDIT_UPDATE, SHUTDOWN or RST, and
    /// data packets of at least one byte each, within what is staged and what the guest has room for.
    /// Without room (maxPayload <= 0), data waits: no RW comes out at all.
    mutating func drain(maxPayload: Int) {
        let room = max(1, maxPayload)
        let data = min(c.fromHost.count, c.guestCredit)
        let dataBound = data == 0 ? 0 : (data - 1) / room + 1
        let bound = 4 + dataBound
        var packets = 0
        var dataPackets = 0
        while true {
            let before = Before(c, snapshot: !c.hasPacket || maxPayload <= 0)
            let p = c.nextPacket(maxPayload: maxPayload)
            emitted(p, maxPayload: maxPayload, before: before)
            guard let p else { break }
            packets += 1
            if p.op == .readWrite {
                dataPackets += 1
                check(maxPayload > 0, "an RW without room for its payload")
            }
            check(packets <= bound, "\(packets) packets in a row without input (bound \(bound); maxPayload \(maxPayload))")
            if packets >= 1024 { break }   // bounded above, but slow to walk with maxPayload 1
        }
        if maxPayload > 0 { check(dataPackets <= dataBound, "data split finer than maxPayload asks") }
        check(packets >= 1024 || !c.hasPacket || (maxPayload <= 0 && !c.fromHost.isEmpty), "hasPacket after a drain")
    }

    // MARK: Invariants

    mutating func invariants() {
        check(c.toHost.count <= Int(c.bufferAllocation), "\(c.toHost.count) bytes for the host beyond buf_alloc \(c.bufferAllocation)")
        check(c.fromHost.count <= VsockConnection.readLimit, "\(c.fromHost.count) bytes from the host beyond the read limit")
        let limit = c.hostReadLimit
        check(limit >= 0 && limit <= min(VsockConnection.readLimit, c.guestCredit), "hostReadLimit \(limit) beyond the guest's credit")
        if limit > 0 {
            check(c.phase == .established && !c.hostStreamEnded && c.guestShutdown & VsockPacket.shutdownReceive == 0
                  && c.fromHost.isEmpty, "reading from the host while it must not")
        }
        check(c.guestCredit >= 0 && c.guestCredit <= Int(c.guestBufferAllocation), "guestCredit \(c.guestCredit) outside 0...buf_alloc")
        switch (phase, c.phase) {
        case (.connecting, .connecting), (.established, .established), (.closed, .closed), (_, .closed): break
        case (.connecting, .established): check(acceptedByGuest, "established without RESPONSE")
        default: fatalError("vsock invariant broken: phase \(phase) became \(c.phase)")
        }
        phase = c.phase
        check(c.guestShutdown & ~shutdownBoth == 0, "unknown SHUTDOWN flags kept")
        if c.violation != nil { check(c.phase == .closed, "a violation that did not close the connection") }
        check(c.sentToGuest == sentToGuest && c.forwardCount == forwardCount, "tx_cnt or fwd_cnt off")

        var copy = c
        let pending = copy.takeHostActions()
        let actions = seen.union(pending)
        check(seen.intersection(pending).isEmpty, "host action \(pending.rawValue) owed again")
        if c.phase == .closed {
            check(c.toHost.isEmpty && c.fromHost.isEmpty, "a closed connection holds bytes")
            check(c.hasPacket == (!guestReset && resets == 0), "a closed connection owes \(c.hasPacket ? "a" : "no") RST (guest reset: \(guestReset), sent: \(resets))")
            check(actions.contains(.close), "closed without telling the host")
        } else {
            check(!actions.contains(.close), "close while open")
            check(c.guestShutdown == guestShutdown, "SHUTDOWN flags changed")
            check(c.hostStreamEnded == hostEndedWhileOpen, "hostStreamEnded off")
            check(c.toHost.count == guestSeq - tookSeq && isStream(c.toHost, from: tookSeq, guestByte), "the guest's bytes for the host lost or reordered")
            check(isStream(c.fromHost, from: hostSeq - c.fromHost.count, hostByte), "the host's bytes for the guest lost or reordered")
            if c.phase == .connecting { check(c.sentToGuest == 0 && c.toHost.isEmpty && limit == 0, "data before the guest accepted") }
            if !accepting && acceptedByGuest { check(actions.contains(.connected), "the host process never told that the guest accepted") }
            // The guest hears about freed space: once the host took all it sent, it has credit in what it was told, or is about to be told.
            if c.bufferAllocation > 0 && c.toHost.isEmpty {
                let inFlight = Int64(forwardCount &- lastAnnounced)
                check(Int64(c.bufferAllocation) - inFlight > 0 || c.hasPacket, "the guest is left without credit (CREDIT_UPDATE owed)")
            }
            if c.guestShutdown & VsockPacket.shutdownSend != 0 && c.toHost.isEmpty {
                check(actions.contains(.shutdownWrite), "the host never gets its end of stream")
            }
            if c.guestShutdown & VsockPacket.shutdownReceive != 0 {
                check(actions.contains(.shutdownRead) && c.fromHost.isEmpty, "the guest stopped receiving but data is kept for it")
            }
            check(!(c.guestShutdown == shutdownBoth && c.toHost.isEmpty), "shut down both ways and drained, yet not closed")
            if c.hostStreamEnded && !shutdownSent && c.fromHost.isEmpty { check(c.hasPacket, "the guest never hears the host ended") }
            if c.phase == .established && c.guestShutdown & VsockPacket.shutdownReceive == 0 && !c.fromHost.isEmpty && c.guestCredit > 0 {
                check(c.hasPacket, "data the guest has room for is held back")
            }
        }
        // With room for a payload, hasPacket says exactly whether nextPacket has one; without room,
        // data waits (no empty RW), so only control packets can come out.
        for maxPayload in [1, Int.max] {
            var copy = c
            check((copy.nextPacket(maxPayload: maxPayload) != nil) == c.hasPacket, "hasPacket disagrees with nextPacket(maxPayload: \(maxPayload))")
        }
        var roomless = c
        if let p = roomless.nextPacket(maxPayload: 0) {
            check(c.hasPacket && p.op != .readWrite, "nextPacket(maxPayload: 0) gave \(p.op) (hasPacket \(c.hasPacket))")
        }
    }
}

// MARK: C. The device

/// The bookkeeping of `VsockUnixMuxer` without sockets: one `VsockConnection` per stream, RSTs
/// for streams that do not exist, and a record of what went through, for the checks.
private final class ModelHostSide: VsockHostSide, @unchecked Sendable {
    struct Call {
        var maxPayload: Int
        var packet: VsockPacket?
    }
    let guestCID: UInt64
    let event = try! EventFD()
    var connections: [VsockConnection] = []
    var outbox: [VsockPacket] = []
    var received: [VsockPacket] = []
    var calls: [Call] = []
    var nextHostPort: UInt32 = 0x4000_0000

    init(guestCID: UInt64) { self.guestCID = guestCID }

    var eventDescriptors: [Int32] { [event.rawValue] }
    func handleEvent(descriptor: Int32) { check(descriptor == event.rawValue, "an event for a descriptor the host side did not give") }

    func receive(fromGuest packet: VsockPacket) {
        check(packet.sourceCID == guestCID && packet.destinationCID == VsockPacket.hostCID && packet.type == VsockPacket.typeStream
              && packet.payload.count <= 64 * 1024, "the device passed on a packet that is not a stream packet from its guest to CID 2")
        received.append(packet)
        let key = Key(guestPort: packet.sourcePort, hostPort: packet.destinationPort)
        if let i = connections.firstIndex(where: { $0.key == key }) {
            connections[i].receive(packet)
            sync(i)
            return
        }
        switch packet.op {
        case .request:
            // Even host ports have a listener.
            if packet.destinationPort & 1 == 0 {
                connections.append(VsockConnection(accepting: packet))
            } else {
                outbox.append(.reset(answering: packet))
            }
        case .readWrite: outbox.append(.reset(answering: packet))
        default: break
        }
    }

    /// What the muxer does after an input: take the actions; forget a closed connection, keeping its RST.
    func sync(_ i: Int) {
        _ = connections[i].takeHostActions()
        guard connections[i].phase == .closed else { return }
        var closed = connections.remove(at: i)
        var count = 0
        while let p = closed.nextPacket(maxPayload: 0) {
            count += 1
            check(count == 1 && p.op == .reset, "a closed connection gave more than one RST")
            outbox.append(p)
        }
    }

    func hasPacketForGuest() -> Bool { !outbox.isEmpty || connections.contains { $0.hasPacket } }

    func nextPacketForGuest(maxPayload: Int) -> VsockPacket? {
        var packet: VsockPacket?
        if !outbox.isEmpty {
            packet = outbox.removeFirst()
        } else if let i = connections.firstIndex(where: { $0.hasPacket }) {
            packet = connections[i].nextPacket(maxPayload: maxPayload)
            // A buffer without room for a payload gets no data (the device returns it empty).
            check(packet != nil || maxPayload <= 0, "hasPacket, but nextPacket gave nothing")
        }
        if let packet { check(packet.payload.count <= max(0, maxPayload), "the host side overfilled a receive buffer") }
        calls.append(Call(maxPayload: maxPayload, packet: packet))
        return packet
    }

    func reset() {
        connections = []
        outbox = []
        received = []
        calls = []
        nextHostPort = 0x4000_0000
    }
}

/// The two VMs, their shared guest RAM and the router, made once.
private final class DeviceBench: @unchecked Sendable {
    static let base: UInt64 = 0x100_0000
    static let ringArea = 64 * 1024
    static let txScratch = base + 64 * 1024          // 256 KiB for one tx packet at a time
    static let slotSize = 20 * 1024
    static let rxSlots = base + 320 * 1024           // 64 slots for VM 3's receive buffers
    static let peerRxSlots = base + 1664 * 1024      // 32 for VM 4's
    let ram = try! SharedMemoryRegion(guestAddress: GuestAddress(base), size: 4 << 20)
    let memory: GuestMemory
    let router = VsockRouter(allowedPairs: [(3, 4)])
    let host = ModelHostSide(guestCID: 3)
    let peerHost = ModelHostSide(guestCID: 4)
    let device: VsockDevice
    let peer: VsockDevice

    init() {
        memory = try! GuestMemory(regions: [ram.region])
        device = try! VsockDevice(cid: 3, hostSide: host, router: router, logger: FuzzGuest.logger)
        peer = try! VsockDevice(cid: 4, hostSide: peerHost, router: router, logger: FuzzGuest.logger)
    }
}
private let bench = DeviceBench()

/// A receive queue as the guest's driver keeps it: buffers posted, each chain's shape remembered.
private final class ReceiveSide {
    struct Posted {
        var writable: [GuestSlice]
        var writableLength: Int
        var slots: [Int]
    }
    let ring: DriverRing
    let queue: DeviceQueue
    let slotBase: UInt64
    var freeSlots: [Int]
    var freeDescriptors: Int
    var posted: [UInt16: Posted] = [:]

    init(index: Int, size: UInt16, slots: Int, slotBase: UInt64, features: VirtioFeatures, allocator: inout GuestAllocator) {
        ring = try! DriverRing(size: size, memory: bench.memory, allocator: &allocator)
        queue = DeviceQueue(index: index, ring: try! SplitQueue(size: UInt32(size), addresses: ring.addresses, memory: bench.memory, features: features),
                            notifier: NullNotifier(), logger: FuzzGuest.logger)
        self.slotBase = slotBase
        freeSlots = Array(0..<slots)
        freeDescriptors = Int(size)
    }

    /// A buffer size a driver might post: the header exactly, one byte short or over, tiny, a page, a slot.
    static func size(_ input: inout FuzzBytes) -> Int {
        switch input.u8() % 8 {
        case 0: return headerSize
        case 1: return headerSize - 1
        case 2: return headerSize + 1
        case 3: return 1 + Int(input.u8()) % headerSize
        case 4: return headerSize + Int(input.u8())
        case 5: return 4096 + headerSize
        case 6: return 1 + Int(input.u16()) % DeviceBench.slotSize
        default: return DeviceBench.slotSize
        }
    }

    /// Posts up to four chains of zero to three writable buffers (none: one readable buffer only).
    func post(_ input: inout FuzzBytes) {
        for _ in 0..<1 + Int(input.u8() % 4) {
            let shape = input.u8()
            let segments = Int(shape & 3)
            let parts = max(1, segments) + (segments > 0 && shape & 4 != 0 ? 1 : 0)
            guard parts <= freeDescriptors, parts <= freeSlots.count else { return }
            let slots = (0..<parts).map { _ in freeSlots.removeLast() }
            let sizes = (0..<parts).map { _ in Self.size(&input) }
            let buffers = zip(slots, sizes).map { try! bench.memory.slice(at: GuestAddress(slotBase + UInt64($0 * DeviceBench.slotSize)), count: $1) }
            let head: UInt16
            let writable: [GuestSlice]
            if segments == 0 {
                writable = []
                head = try! ring.add(readable: buffers)
            } else if parts > segments {
                writable = Array(buffers.dropFirst())   // a readable buffer first: nothing may be written there
                head = try! ring.add(readable: [buffers[0]], writable: writable)
            } else {
                writable = buffers
                head = try! ring.add(writable: writable)
            }
            freeDescriptors -= parts
            posted[head] = Posted(writable: writable, writableLength: writable.reduce(0) { $0 + $1.count }, slots: slots)
        }
    }

    /// The buffers the device used since the last call, with what it wrote.
    func collect() -> [(length: Int, posted: Posted, bytes: [UInt8])] {
        try! ring.collectUsed().map { used in
            guard let p = posted.removeValue(forKey: used.head) else {
                fatalError("vsock invariant broken: the device used buffer \(used.head), which was not posted")
            }
            freeSlots += p.slots
            freeDescriptors += p.slots.count
            let length = Int(used.length)
            check(length <= p.writableLength, "the device wrote \(length) bytes into a \(p.writableLength)-byte buffer")
            var bytes: [UInt8] = []
            for s in p.writable where bytes.count < length {
                bytes += try! s.bytes(count: min(s.count, length - bytes.count))
            }
            return (length, p, bytes)
        }
    }
}

/// One run of the two devices: the guest of VM 3 sends and receives; VM 4 receives what VM 3 sends it.
private struct DeviceRun {
    let rx: ReceiveSide
    let peerRx: ReceiveSide
    let tx: DriverRing
    let txQueue: DeviceQueue
    /// RSTs the device owes the guest, in order (they go before the host side's packets).
    var answers: [VsockPacket] = []
    /// Packets forwarded to VM 4, not yet (all) in its receive buffers.
    var forwarded: [VsockPacket] = []
    var guestSeq = 0
    var hostSeq = 0

    init(_ input: inout FuzzBytes) {
        let features: VirtioFeatures = input.u8() & 1 != 0 ? [.version1, .ringEventIndex] : [.version1]
        try! bench.memory.slice(at: GuestAddress(DeviceBench.base), count: DeviceBench.ringArea).fill(0)
        var allocator = GuestAllocator(base: GuestAddress(DeviceBench.base), size: UInt64(DeviceBench.ringArea))
        rx = ReceiveSide(index: 0, size: 64, slots: 64, slotBase: DeviceBench.rxSlots, features: features, allocator: &allocator)
        tx = try! DriverRing(size: 64, memory: bench.memory, allocator: &allocator)
        txQueue = DeviceQueue(index: 1, ring: try! SplitQueue(size: 64, addresses: tx.addresses, memory: bench.memory, features: features),
                              notifier: NullNotifier(), logger: FuzzGuest.logger)
        peerRx = ReceiveSide(index: 0, size: 32, slots: 32, slotBase: DeviceBench.peerRxSlots, features: features, allocator: &allocator)
        bench.device.queueStarted(rx.queue)
        bench.device.queueStarted(txQueue)
        bench.peer.queueStarted(peerRx.queue)
    }

    mutating func run(_ input: inout FuzzBytes) {
        var steps = 0
        while !input.isEmpty, steps < 128 {
            steps += 1
            let op = input.u8() % 16
            trace("device step \(steps): op \(op)")
            switch op {
            case 0...5: send(&input)
            case 6, 7:
                rx.post(&input)
                bench.device.process(rx.queue)
            case 8:
                peerRx.post(&input)
                bench.peer.process(peerRx.queue)
                checkPeer(filled: true)
            case 9:
                // VM 4's event loop: its wake eventfd (packets from other VMs).
                bench.peer.handleEvent(descriptor: bench.peer.eventDescriptors[0])
                checkPeer(filled: true)
            default: hostEvent(&input)
            }
            checkGuest()
        }
        bench.device.reset()
        bench.peer.reset()
    }

    /// The guest sends one packet on tx: fields, lengths and descriptor layout from the input.
    mutating func send(_ input: inout FuzzBytes) {
        let addressing = input.u8()
        let kind = input.u8()
        let fields = input.u8()
        let sizing = input.u8()
        let source: UInt64 = addressing & 7 == 0 ? UInt64(input.u8()) : 3
        let destination: UInt64
        switch (addressing >> 3) & 7 {
        case 0...3: destination = VsockPacket.hostCID
        case 4: destination = 4
        case 5: destination = 3
        case 6: destination = UInt64(input.u8())
        default: destination = input.u64()
        }
        let guestPort = 1000 + UInt32(kind >> 6)
        let hostPort = (addressing & 0x80 != 0 ? 0x4000_0001 : 5000) + UInt32((kind >> 4) & 3)
        var packet = VsockPacket(sourceCID: source, destinationCID: destination, sourcePort: guestPort, destinationPort: hostPort,
                                 operation: .reset, flags: UInt32(fields & 3))
        packet.operation = kind & 8 != 0 ? input.u16() : UInt16(kind & 7)
        if addressing & 0x40 != 0 { packet.type = UInt16(input.u8()) }
        let key = Key(guestPort: guestPort, hostPort: hostPort)
        let sent = bench.host.connections.first { $0.key == key }?.sentToGuest ?? 0
        packet.bufferAllocation = fields & 4 != 0 ? input.u32() : 64 * 1024
        switch (fields >> 3) & 3 {
        case 0: packet.forwardCount = sent
        case 1: packet.forwardCount = input.u32()
        default: packet.forwardCount = 0
        }
        let size: Int
        switch sizing & 3 {
        case 0: size = 0
        case 1: size = Int(input.u8())
        case 2: size = Int(input.u16())
        default: size = 65_536 + Int(input.u8() & 1)
        }
        packet.payload = guestBytes(guestSeq, size)
        guestSeq += size
        var bytes = packet.header + packet.payload
        // The header's len as the guest wrote it: true, one too many, one too few, or anything.
        switch (sizing >> 2) & 7 {
        case 1: Self.putLength(&bytes, UInt32(size + 1))
        case 2: Self.putLength(&bytes, UInt32(max(0, size - 1)))
        case 3: Self.putLength(&bytes, input.u32())
        case 4: bytes += [UInt8](repeating: 0xee, count: Int(input.u8()))        // trailing bytes beyond len
        case 5: bytes = Array(bytes.prefix(1 + Int(input.u8())))                // cut short
        default: break
        }
        // Descriptor layout: one to three readable buffers, and now and then a writable one after them.
        let cuts = [Int(input.u16()) % (bytes.count + 1), Int(input.u16()) % (bytes.count + 1)].sorted()
        let pieces = sizing & 0x20 != 0 ? [0..<cuts[0], cuts[0]..<cuts[1], cuts[1]..<bytes.count].filter { !$0.isEmpty } : [0..<bytes.count]
        var offset: UInt64 = 0
        var readable: [GuestSlice] = []
        for piece in pieces {
            let slice = try! bench.memory.slice(at: GuestAddress(DeviceBench.txScratch + offset), count: piece.count)
            try! slice.write(Array(bytes[piece]))
            readable.append(slice)
            offset += UInt64(piece.count) + 64
        }
        let writable = sizing & 0x40 != 0 ? [try! bench.memory.slice(at: GuestAddress(DeviceBench.txScratch + offset), count: 64)] : []
        if readable.isEmpty && writable.isEmpty { return }

        // What the device must do with it (§5.10.6: its routing rules).
        var expected: VsockPacket?
        if let (parsed, length) = VsockPacket.parse(header: bytes), Int(length) <= 64 * 1024, Int(length) <= bytes.count - headerSize {
            expected = parsed
            expected!.payload = Array(bytes[headerSize..<headerSize + Int(length)])
        }
        trace("guest sends \(bytes.count) bytes in \(readable.count) buffers: \(expected.map(describe) ?? "malformed")")
        let receivedBefore = bench.host.received.count
        let head = try! tx.add(readable: readable, writable: writable)
        bench.device.process(txQueue)
        let used = try! tx.collectUsed()
        check(used == [DriverRing.UsedElement(head: head, length: 0)], "tx buffer not returned once with nothing written: \(used)")

        var toHost = false
        if let p = expected, p.sourceCID == 3 {
            if p.type != VsockPacket.typeStream {
                if p.op == .request { answers.append(.reset(answering: p)) }
            } else {
                switch p.destinationCID {
                case VsockPacket.hostCID: toHost = true
                case 0, 1, 3: if p.op != .reset { answers.append(.reset(answering: p)) }
                case 4: forwarded.append(p)
                default: if p.op != .reset { answers.append(.reset(answering: p)) }
                }
            }
        }
        if toHost {
            check(bench.host.received.count == receivedBefore + 1 && samePacket(bench.host.received.last, expected), "the host side did not get the guest's packet as sent")
        } else {
            check(bench.host.received.count == receivedBefore, "the host side got a packet it should not have")
        }
    }

    static func putLength(_ bytes: inout [UInt8], _ length: UInt32) {
        for i in 0..<4 { bytes[24 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(i))) }
    }

    /// A host process acts on one of the connections (or asks for a new one); the device's event loop follows.
    mutating func hostEvent(_ input: inout FuzzBytes) {
        let host = bench.host
        let what = input.u8()
        let pick = Int(input.u8())
        if what % 5 == 4 || host.connections.isEmpty {
            host.nextHostPort += 1
            let key = Key(guestPort: 1000 + UInt32(pick & 3), hostPort: host.nextHostPort)
            // The muxer skips a port in use (a guest's REQUEST may have taken it).
            guard !host.connections.contains(where: { $0.key == key }) else { return }
            let first = hostBytes(hostSeq, Int(input.u8()))
            hostSeq += first.count
            host.connections.append(VsockConnection(guestCID: 3, key: key, firstBytes: first))
            trace("host process connects to \(key) with \(first.count) bytes")
        } else {
            let i = pick % host.connections.count
            trace("host event \(what % 5) on \(host.connections[i].key)")
            switch what % 5 {
            case 0:
                let n = min(Int(input.u16()), host.connections[i].hostReadLimit)
                host.connections[i].hostSent(hostBytes(hostSeq, n))
                hostSeq += n
            case 1:
                host.connections[i].hostTook(what & 0x80 != 0 ? Int.max : Int(input.u16()))
            case 2: host.connections[i].hostEnded()
            default: host.connections[i].hostFailed()
            }
            host.sync(i)
        }
        bench.device.handleEvent(descriptor: host.event.rawValue)
    }

    /// Every buffer VM 3's device used holds what it owed, in order: its own RSTs first, then what the
    /// host side gave for that buffer (a buffer too small for a header comes back empty, the packet lost).
    mutating func checkGuest() {
        let host = bench.host
        for (length, posted, bytes) in rx.collect() {
            let packet: VsockPacket
            if !answers.isEmpty {
                packet = answers.removeFirst()
            } else {
                check(!host.calls.isEmpty, "a receive buffer used with nothing for it")
                let call = host.calls.removeFirst()
                check(call.maxPayload == max(0, posted.writableLength - headerSize),
                      "asked the host side for \(call.maxPayload) bytes for a \(posted.writableLength)-byte buffer")
                guard let p = call.packet else {
                    // Only a buffer without room for a payload may come back empty: its data waits.
                    check(call.maxPayload <= 0 && length == 0, "a receive buffer taken for a packet that did not come")
                    continue
                }
                packet = p
            }
            trace("guest receives into \(posted.writableLength) bytes: \(describe(packet)) (\(length) written)")
            Self.expect(packet, for: 3, length: length, posted: posted, bytes: bytes)
        }
        check(host.calls.isEmpty, "the host side gave a packet that went into no buffer")
        if !rx.posted.isEmpty {
            check(answers.isEmpty && !host.hasPacketForGuest(), "packets wait while receive buffers are posted")
        }
    }

    /// VM 4's buffers hold what VM 3 sent it, in order, split where a buffer is too small.
    mutating func checkPeer(filled: Bool) {
        for (length, posted, bytes) in peerRx.collect() {
            check(!forwarded.isEmpty, "VM 4 got a packet nobody sent it")
            let room = max(0, posted.writableLength - headerSize)
            var packet = forwarded[0]
            if packet.payload.count > room {
                packet.payload = Array(packet.payload.prefix(room))
                forwarded[0].payload.removeFirst(room)
            } else {
                forwarded.removeFirst()
            }
            trace("VM 4 receives into \(posted.writableLength) bytes: \(describe(packet)) (\(length) written)")
            Self.expect(packet, for: 4, length: length, posted: posted, bytes: bytes)
        }
        if filled && !peerRx.posted.isEmpty { check(forwarded.isEmpty, "packets for VM 4 wait while its receive buffers are posted") }
    }

    static func expect(_ packet: VsockPacket, for cid: UInt64, length: Int, posted: ReceiveSide.Posted, bytes: [UInt8]) {
        check(packet.destinationCID == cid, "a packet for CID \(packet.destinationCID) in CID \(cid)'s buffers")
        if posted.writableLength < headerSize {
            check(length == 0, "\(length) bytes in a buffer too small for a header")
            return
        }
        check(length == headerSize + packet.payload.count, "\(length) bytes written for a packet of \(packet.payload.count)")
        guard let (parsed, announced) = VsockPacket.parse(header: bytes) else { fatalError("vsock invariant broken: unparsable header in a receive buffer") }
        var got = parsed
        got.payload = Array(bytes[headerSize...])
        check(Int(announced) == packet.payload.count && samePacket(got, packet), "the guest got \(got) instead of \(packet)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    fuzzParsing(Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    var input = FuzzBytes(data: data + 1, count: size - 1)
    if data[0] & 1 == 0 {
        var run = ConnectionRun(&input)
        run.run(&input)
    } else {
        var run = DeviceRun(&input)
        run.run(&input)
    }
    return 0
}
