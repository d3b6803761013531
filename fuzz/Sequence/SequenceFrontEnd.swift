// The sequence target's front end: a VMM and guest driver in one, holding real resources — a
// memfd of guest RAM, kick and call eventfds, a display socket pair — and sending vhost-user
// messages to a back end in this process, as the server would hand them over: every descriptor
// a fresh duplicate (what SCM_RIGHTS delivers), a protocol error ending the connection, a memory
// fault ending it too, and after each message the kicks and device descriptors that became
// readable served (what the server's epoll loop does).
import AVPTestSupport
import CAVPShim
import Glibc
import GuestMemory
import Logging
import SystemCalls
import VhostUser
import Virtio

final class SequenceFrontEnd {
    static let ramBase: UInt64 = 0x4000_0000
    static let ramSize = 256 * 1024
    /// Ring q lives at q * ringStride: descriptor table, then the available ring at +0x1000, the used at +0x1400.
    static let ringStride = 0x2000
    static let ringCount = 8
    static let dataStart = ringStride * ringCount

    let backend: VhostUserBackend
    private(set) var ram: SharedMemoryRegion
    private(set) var memory: GuestMemory
    private var kicks: [EventFD] = []
    private var calls: [EventFD] = []
    private(set) var sizes = [UInt16](repeating: 16, count: ringCount)
    private var availableIndex = [UInt16](repeating: 0, count: ringCount)
    private var keep: [AnyObject] = []
    private(set) var connections = 1

    init(backend: VhostUserBackend) throws {
        self.backend = backend
        ram = try SharedMemoryRegion(guestAddress: GuestAddress(Self.ramBase), size: UInt64(Self.ramSize))
        memory = try GuestMemory(regions: [ram.region])
        kicks = try (0..<Self.ringCount).map { _ in try EventFD() }
        calls = try (0..<Self.ringCount).map { _ in try EventFD() }
    }

    var queueCount: Int { min(backend.device.queueCount, Self.ringCount) }

    /// A queue index the device has (mostly), or one past its last (refused by the back end).
    func queue(_ byte: UInt8) -> Int {
        byte & 0x80 != 0 ? Int(byte & 0x7f) % (Self.ringCount + 2) : Int(byte) % max(1, queueCount)
    }

    // MARK: Delivery

    /// Sends a command; false if the connection ended (the back end refused it as a protocol error).
    @discardableResult
    func send(_ command: VhostUserCommand, ack: Bool = true) -> Bool {
        let (request, payload, fds) = command.encode()
        return deliver(VhostUserMessage(request: request.rawValue, flags: ack ? .needReply : [], payload: payload,
                                        descriptors: fds.compactMap { try? $0.duplicate() }))
    }

    @discardableResult
    func deliver(_ message: VhostUserMessage) -> Bool {
        do { _ = try backend.handle(message) } catch {
            reconnect()
            return false
        }
        return afterEvent()
    }

    /// What the server does after each event: end a front end whose memory faulted, serve readable
    /// kicks and device descriptors.
    @discardableResult
    func afterEvent() -> Bool {
        if backend.checkMemoryFault() != nil {
            reconnect()
            return false
        }
        for _ in 0..<4 {
            var served = false
            for (queue, fd) in backend.activeKicks where readable(fd) {
                backend.kick(queue: queue)
                served = true
            }
            for fd in backend.device.eventDescriptors where readable(fd) {
                backend.device.handleEvent(descriptor: fd)
                served = true
            }
            if backend.checkMemoryFault() != nil {
                reconnect()
                return false
            }
            if !served { break }
        }
        for call in calls { call.drain() }
        return true
    }

    private func readable(_ fd: Int32, milliseconds: Int32 = 0) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, milliseconds) > 0 && p.revents & Int16(POLLIN) != 0
    }

    /// Waits up to `milliseconds` for the device's own descriptors (I/O completions) and serves them.
    func awaitDevice(milliseconds: Int32) {
        let fds = backend.device.eventDescriptors
        guard !fds.isEmpty else { return }
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&polled, nfds_t(polled.count), milliseconds)
        afterEvent()
    }

    /// The front end went away and a new one connects: the back end is reset (the server's
    /// `closeFrontEnd`) and the new front end starts from fresh RAM and rings.
    func reconnect() {
        backend.disconnect()
        connections += 1
        if let fresh = try? SharedMemoryRegion(guestAddress: GuestAddress(Self.ramBase), size: UInt64(Self.ramSize)),
           let m = try? GuestMemory(regions: [fresh.region]) {
            ram = fresh
            memory = m
        }
        availableIndex = [UInt16](repeating: 0, count: Self.ringCount)
        keep.removeAll()
    }

    /// Ends the session: what the server does when the last front end leaves.
    func finish() {
        backend.disconnect()
        keep.removeAll()
    }

    // MARK: What a VMM sends

    /// GET_FEATURES, protocol features (those chosen from what is offered), SET_OWNER, SET_FEATURES.
    func negotiate(protocolMask: UInt8, featureMask: UInt64) {
        send(.getFeatures, ack: false)
        let offered = backend.offeredFeatures
        send(.getProtocolFeatures, ack: false)
        let wanted = backend.offeredProtocolFeatures.rawValue & (protocolMask & 1 != 0 ? UInt64.max : UInt64(protocolMask) << 1 | 2)
        send(.setProtocolFeatures(wanted), ack: false)
        send(.setOwner)
        send(.setFeatures(offered & featureMask))
    }

    var ramDescriptor: MemoryRegionDescriptor { ram.descriptor }

    func shareMemory() { send(.setMemTable([ram.descriptor], [ram.file])) }

    func frontendAddress(_ offset: Int) -> FrontendAddress {
        FrontendAddress(ram.descriptor.frontendAddress.raw &+ UInt64(offset))
    }

    func ringAddress(_ q: Int) -> VringAddress {
        let o = (q % Self.ringCount) * Self.ringStride
        return VringAddress(index: UInt32(q), descriptorTable: frontendAddress(o), usedRing: frontendAddress(o + 0x1400),
                            availableRing: frontendAddress(o + 0x1000))
    }

    /// The whole ring set-up a VMM sends before DRIVER_OK.
    func startRing(_ q: Int, size: UInt16, base: UInt16 = 0) {
        let i = UInt32(q)
        if q < Self.ringCount {
            sizes[q] = size
            availableIndex[q] = base
            clearRing(q)
        }
        send(.setVringNum(index: i, size: UInt32(size)))
        send(.setVringBase(index: i, base: UInt32(base)))
        send(.setVringAddr(ringAddress(q)))
        send(.setVringCall(index: i, calls[q % Self.ringCount].descriptor))
        send(.setVringKick(index: i, kicks[q % Self.ringCount].descriptor))
        send(.setVringEnable(index: i, enabled: true))
    }

    func kickDescriptor(_ q: Int) -> FileDescriptor { kicks[q % Self.ringCount].descriptor }
    func callDescriptor(_ q: Int) -> FileDescriptor { calls[q % Self.ringCount].descriptor }
    func setRingSize(_ q: Int, _ size: UInt16) { if q < Self.ringCount { sizes[q] = size } }
    func setAvailableIndex(_ q: Int, _ index: UInt16) { if q < Self.ringCount { availableIndex[q] = index } }

    func kick(_ q: Int) {
        kicks[q % Self.ringCount].signal()
        afterEvent()
    }

    /// Something that must outlive the step that made it (the VMM's end of a socket pair).
    func hold(_ object: AnyObject) { keep.append(object) }

    // MARK: The guest's side of the rings

    private func clearRing(_ q: Int) {
        guard let ring = try? memory.slice(at: GuestAddress(Self.ramBase + UInt64(q * Self.ringStride)), count: Self.ringStride) else { return }
        ring.fill(0)
    }

    /// Writes descriptor `i` of ring `q`'s table (any values: the guest is hostile).
    func writeDescriptor(_ q: Int, _ i: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        let table = Self.ramBase + UInt64((q % Self.ringCount) * Self.ringStride)
        guard let slot = try? memory.slice(at: GuestAddress(table + UInt64(i % 256) * 16), count: 16) else { return }
        try? slot.store(address, at: 0)
        try? slot.store(length, at: 8)
        try? slot.store(flags, at: 12)
        try? slot.store(next, at: 14)
    }

    /// Writes `bytes` into guest RAM at `offset` (clipped to the RAM).
    func writeRAM(_ bytes: [UInt8], at offset: Int) {
        let start = min(max(0, offset), Self.ramSize)
        let count = min(bytes.count, Self.ramSize - start)
        guard count > 0, let s = try? memory.slice(at: GuestAddress(Self.ramBase + UInt64(start)), count: count) else { return }
        bytes.prefix(count).withUnsafeBytes { try? s.write($0, at: 0) }
    }

    /// Puts `head` in ring `q`'s available ring and publishes it (the index store after the entry, §2.7.13).
    func publish(_ q: Int, head: UInt16) {
        let r = q % Self.ringCount
        let size = max(1, Int(sizes[r]))
        let avail = Self.ramBase + UInt64(r * Self.ringStride + 0x1000)
        guard let ring = try? memory.slice(at: GuestAddress(avail), count: 4 + 2 * 256 + 2) else { return }
        try? ring.store(head, at: 4 + 2 * (Int(availableIndex[r]) % min(size, 256)))
        avp_fence_release()
        availableIndex[r] &+= 1
        try? ring.store(availableIndex[r], at: 2)
    }

    /// A lying driver: the available index set to anything.
    func forceAvailableIndex(_ q: Int, _ value: UInt16) {
        let r = q % Self.ringCount
        let avail = Self.ramBase + UInt64(r * Self.ringStride + 0x1000)
        guard let ring = try? memory.slice(at: GuestAddress(avail), count: 4) else { return }
        try? ring.store(value, at: 2)
        availableIndex[r] = value
    }
}
