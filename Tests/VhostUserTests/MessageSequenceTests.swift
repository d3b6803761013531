#if canImport(Glibc)
import Glibc
#endif
import AVPTestSupport
import CAVPShim
import GuestMemory
import SystemCalls
import Testing
import VhostUser
import Virtio

/// A hostile front end over the socket, with real resources: memfd RAM, eventfds, socket pairs.
/// It sends random vhost-user steps; any error on its side (a refusal, the server closing the
/// connection after a protocol error, an unexpected reply) just makes it connect again.
final class SequenceFrontEnd {
    static let ramBase: UInt64 = 0x4000_0000
    static let ramSize = 256 * 1024
    let path: String
    let queueCount: Int
    var random: SplitMix64
    private var front: VhostUserFrontend?
    private var ram: SharedMemoryRegion
    private var memory: GuestMemory
    private var acked = false
    private var sizes = [UInt16](repeating: 16, count: 8)
    private var available = [UInt16](repeating: 0, count: 8)
    private var keep: [AnyObject] = []
    private var kicks: [Int: EventFD] = [:]
    private(set) var connections = 0

    init(path: String, queueCount: Int, seed: UInt64) throws {
        self.path = path
        self.queueCount = min(queueCount, 8)
        random = SplitMix64(seed: seed)
        ram = try SharedMemoryRegion(guestAddress: GuestAddress(Self.ramBase), size: UInt64(Self.ramSize))
        memory = try GuestMemory(regions: [ram.region])
    }

    private func connection() throws -> VhostUserFrontend {
        if let front { return front }
        let f = try VhostUserFrontend.connect(to: path, timeoutSeconds: 2)
        // Replies to a connection the server still serves come at once; seconds mean a blocked thread.
        f.channel.setReceiveTimeout(seconds: 5)
        front = f
        acked = false
        connections += 1
        return f
    }

    /// Used entries the device returned on any ring, over every connection so far.
    private(set) var usedSeen = 0

    /// Leaves: the socket closes (with whatever half-sent message), the RAM and rings are new.
    func disconnect() {
        for r in 0..<8 { usedSeen += Int((try? slice(r * 0x2000 + 0x1400, 4)?.loadAtomicUInt16(at: 2)) ?? 0) }
        front?.channel.socket.shutdown()
        front = nil
        keep.removeAll()
        kicks.removeAll()
        if let fresh = try? SharedMemoryRegion(guestAddress: GuestAddress(Self.ramBase), size: UInt64(Self.ramSize)),
           let m = try? GuestMemory(regions: [fresh.region]) {
            ram = fresh
            memory = m
        }
        available = [UInt16](repeating: 0, count: 8)
    }

    private func send(_ command: VhostUserCommand) {
        do { try connection().send(command, ack: acked && random.chance(50)) } catch { disconnect() }
    }

    private func queue() -> Int { random.chance(5) ? queueCount + random.below(3) : random.below(queueCount) }
    private func frontendAddress(_ offset: Int) -> FrontendAddress { FrontendAddress(ram.descriptor.frontendAddress.raw &+ UInt64(offset)) }
    private func ring(_ q: Int) -> VringAddress {
        let o = (q % 8) * 0x2000
        return VringAddress(index: UInt32(q), descriptorTable: frontendAddress(o), usedRing: frontendAddress(o + 0x1400),
                            availableRing: frontendAddress(o + 0x1000))
    }
    private func slice(_ offset: Int, _ count: Int) -> GuestSlice? {
        try? memory.slice(at: GuestAddress(Self.ramBase + UInt64(offset)), count: count)
    }

    /// One random step of a session, weighted towards requests; a new connection first brings the
    /// device up as a VMM does (mostly whole, so the sequences reach the devices' request handlers).
    func step() {
        if front == nil { bringUp() }
        switch random.below(100) {
        case 0..<35: placeChain(queue())
        case 35..<40:
            let q = queue() % 8
            try? slice(q * 0x2000 + 0x1000, 4)?.store(UInt16(truncatingIfNeeded: random.next()), at: 2)  // a lying available index
            send(.vringKick(index: UInt32(q)))
        case 40..<50: ringMessage(queue())
        case 50..<58: ringSetUp(queue())
        case 58..<64: send(.getVringBase(index: UInt32(queue())))
        case 64..<70: memoryTable()
        case 70..<74: negotiate()
        case 74..<79: send([VhostUserCommand.resetDevice, .resetOwner, .setStatus(0), .setStatus(UInt8(random.below(256)))][random.below(4)])
        case 79..<85: deviceMessage()
        case 85..<89:
            // Any request, any payload, a descriptor or two; no reply awaited.
            let fds = (0..<random.below(3)).compactMap { _ in (try? EventFD())?.descriptor }
            do { try connection().sendRaw(request: UInt32(random.below(48)), payload: random.bytes(random.below(80)), descriptors: fds) } catch { disconnect() }
        case 89..<91:
            // Half a message, then the front end goes. (One that stays silent mid-message is ended by the
            // server's 5 s timer, which HostileFrontEnd covers; here it would only slow the sequences down.)
            do { try connection().channel.socket.send(random.bytes(1 + random.below(11))) } catch {}
            disconnect()
        case 91..<95: disconnect()
        case 95..<98: MonotonicClock.sleep(milliseconds: random.below(3))
        default:
            guard random.chance(20) else { return }
            // The RAM shrinks under the server's mapping (SIGBUS, absorbed by the guard).
            try? ram.file.truncate(to: 0)
            placeChain(queue())
            disconnect()
        }
    }

    private func bringUp() {
        if random.chance(95) { negotiate() }
        if random.chance(95) { send(.setMemTable([ram.descriptor], [ram.file])) }
        for q in 0..<queueCount where random.chance(90) { ringSetUp(q) }
    }

    private func negotiate() {
        do {
            let f = try connection()
            let offered = try f.getFeatures()
            let protocolFeatures = try f.getProtocolFeatures()
            let wanted = VhostUserProtocolFeatures(rawValue: protocolFeatures.rawValue & (random.chance(70) ? UInt64.max : random.next()))
            try f.setProtocolFeatures(wanted)
            acked = wanted.contains(.replyAck)
            send(.setOwner)
            send(.setFeatures(random.chance(90) ? offered : offered & random.next()))
        } catch { disconnect() }
    }

    private func memoryTable() {
        let r = ram.descriptor
        switch random.below(6) {
        case 0: send(.setMemTable([MemoryRegionDescriptor(guestAddress: r.guestAddress, size: UInt64(random.below(1 << 20)),
                                                          frontendAddress: r.frontendAddress, mmapOffset: 0)], [ram.file]))
        case 1: send(.setMemTable([r, MemoryRegionDescriptor(guestAddress: GuestAddress(random.next() & 0xffff_ffff), size: 0x10000,
                                                             frontendAddress: FrontendAddress(random.next() & 0xffff_ffff_ffff),
                                                             mmapOffset: UInt64(random.below(64)) << 12)], [ram.file, ram.file]))
        case 2: send(random.chance(50) ? .remMemReg(r) : .addMemReg(r, ram.file))
        default: send(.setMemTable([r], [ram.file]))
        }
    }

    /// SET_VRING_NUM/BASE/ADDR/CALL/KICK/ENABLE, each message sent with a 95% chance.
    private func ringSetUp(_ q: Int) {
        let i = UInt32(q)
        let size = UInt16(1) << (1 + random.below(8))
        if q < 8 { sizes[q] = size; available[q] = 0; slice(q * 0x2000, 0x2000)?.fill(0) }
        guard let kick = try? EventFD(), let call = try? EventFD() else { return }
        keep += [kick, call]
        kicks[q] = kick
        for command: VhostUserCommand in [.setVringNum(index: i, size: UInt32(size)), .setVringBase(index: i, base: 0), .setVringAddr(ring(q)),
                                          .setVringCall(index: i, call.descriptor), .setVringKick(index: i, kick.descriptor),
                                          .setVringEnable(index: i, enabled: true)] where random.chance(95) {
            send(command)
        }
    }

    private func ringMessage(_ q: Int) {
        let i = UInt32(q)
        switch random.below(7) {
        case 0: send(.setVringNum(index: i, size: UInt32(random.below(2048))))
        case 1: send(.setVringBase(index: i, base: UInt32(truncatingIfNeeded: random.next())))
        case 2: send(.setVringAddr(VringAddress(index: i, descriptorTable: frontendAddress(random.below(1 << 19)),
                                                usedRing: ring(q).usedRing, availableRing: ring(q).availableRing)))
        case 3: send(.setVringKick(index: i, nil))
        case 4: send(.setVringErr(index: i, (try? EventFD())?.descriptor))
        case 5: send(.setVringEnable(index: i, enabled: random.chance(50)))
        default: send(.vringKick(index: i))
        }
    }

    /// Configuration space, crypto sessions, the GPU's display socket.
    private func deviceMessage() {
        switch random.below(4) {
        case 0: send(.getConfig(offset: UInt32(random.below(64)), size: UInt32(random.below(300)), flags: 0))
        case 1: send(.setConfig(offset: UInt32(random.below(64)), flags: 0, bytes: random.bytes(random.below(16))))
        case 2: send(.createCryptoSession(random.bytes(random.below(128))))
        default:
            guard let (near, far) = try? UnixSocket.pair() else { return }
            keep.append(near)
            send(.gpuSetSocket(far.descriptor))
        }
    }

    /// A chain of 1-6 descriptors with buffers in RAM (or anywhere), published and kicked in band.
    private func placeChain(_ q: Int) {
        let r = q % 8
        let size = max(1, sizes[r])
        let head = UInt16(random.below(Int(size)))
        let count = 1 + random.below(6)
        for n in 0..<count {
            let index = (head &+ UInt16(n)) % size
            guard let d = slice(r * 0x2000 + Int(index) * 16, 16) else { continue }
            let address = random.chance(90) ? Self.ramBase + 0x10000 + UInt64(random.below(0x30000)) : random.next()
            var flags: UInt16 = random.chance(50) ? 2 : 0
            if n + 1 < count { flags |= 1 }
            if random.chance(10) { flags = UInt16(random.below(8)) }
            try? d.store(address, at: 0)
            try? d.store(UInt32(random.chance(90) ? random.below(4096) : Int(truncatingIfNeeded: random.next() & 0xffff_ffff)), at: 8)
            try? d.store(flags, at: 12)
            try? d.store(random.chance(90) ? (index + 1) % size : UInt16(random.below(300)), at: 14)
        }
        if random.chance(60), let header = slice(0x10000 + random.below(0x2000), 64) {
            random.bytes(64).withUnsafeBytes { try? header.write($0, at: 0) }
        }
        guard let avail = slice(r * 0x2000 + 0x1000, 4 + 2 * 256) else { return }
        try? avail.store(head, at: 4 + 2 * (Int(available[r]) % min(Int(size), 256)))
        avp_fence_release()
        available[r] &+= 1
        try? avail.store(available[r], at: 2)
        if let kick = kicks[q], random.chance(80) { kick.signal() } else { send(.vringKick(index: UInt32(q))) }
    }
}

/// Issue 16 item 2: no sequence of vhost-user messages — memory tables, ring set-ups, chains in
/// shared memory, kicks, stops, resets, half messages, disconnections, shrunk RAM — crashes a
/// server or blocks its thread. After every sequence a new front end must get its answers
/// (negotiation, the memory table, GET_QUEUE_NUM) within a bounded time; a thread blocked in a
/// read, a wait or a loop fails the test, and a crash takes the test process down with it.
@Suite struct MessageSequences {
    static let sequencesPerKind = 200

    /// Seconds a new front end may take to be answered: generous for a loaded machine, far below forever.
    static let bound = 5

    /// A front end that negotiates, shares RAM and asks the queue count, all answered within the bound.
    private func answersWithinBound(_ s: MessageSequenceServer) -> Bool {
        let started = MonotonicClock.seconds()
        do {
            let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: s.path, timeoutSeconds: Double(Self.bound)),
                                         memorySize: 1 << 20)
            driver.frontend.channel.setReceiveTimeout(seconds: Self.bound)
            try driver.negotiate()
            try driver.shareMemory()
            guard try driver.frontend.getQueueNum() == UInt64(s.device.queueCount) else { return false }
            driver.frontend.channel.socket.shutdown()
        } catch {
            return false
        }
        return MonotonicClock.seconds() - started < Double(Self.bound)
    }

    @Test(arguments: MessageSequenceKind.allCases)
    func noSequenceCrashesOrBlocksTheServer(_ kind: MessageSequenceKind) throws {
        let s = try MessageSequenceServer(kind)
        var used = 0
        for n in 0..<Self.sequencesPerKind {
            let seed = UInt64(n) << 8 | UInt64(MessageSequenceKind.allCases.firstIndex(of: kind)!)
            let front = try SequenceFrontEnd(path: s.path, queueCount: s.device.queueCount, seed: seed)
            for _ in 0..<(5 + front.random.below(40)) { front.step() }
            front.disconnect()
            used += front.usedSeen
            guard answersWithinBound(s) else {
                Issue.record("\(kind): the server did not answer within \(Self.bound) s after sequence \(n) (seed \(seed))")
                return
            }
        }
        #expect(s.server.connectionCount >= Self.sequencesPerKind * 2)
        // The sequences reach the device: requests placed in shared memory came back used.
        #expect(used > 0, "\(kind): no request was ever completed")
    }
}
