#if canImport(Glibc)
import Glibc
#endif
import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// virtio-vsock (VIRTIO 1.2 §5.10) for one VM ({AVPS-v2.0-16}): rx (0), tx (1) and event
/// (2) queues, the guest's CID in configuration space.
///
/// Host side, with the convention of Firecracker and rust-vmm's vhost-device-vsock: a
/// host process connects to `hostSocketPath` and writes `CONNECT <port>\n` to reach a
/// guest port (answered `OK <port>\n`); a guest connecting to CID 2 port P reaches the
/// Unix socket `<hostSocketPath>_P`. Guests reach other VMs through the `VsockRouter`
/// when the platform allows the pair, and get a RST otherwise.
///
/// Flow control is by credit both ways: AVP reads from a host socket only what the
/// guest has room for, and accepts from the guest at most `bufferAllocation` bytes per
/// connection that the host has not taken yet; a guest that ignores its credit is reset.
public final class VsockDevice: VirtioDevice, @unchecked Sendable {
    static let receiveQueue = 0, transmitQueue = 1, eventQueue = 2
    /// Receive buffer AVP announces per connection (bytes from the guest not yet written to the host).
    public static let bufferAllocation: UInt32 = 256 * 1024
    /// Largest payload accepted in one packet from a guest.
    static let maxPayload = 64 * 1024
    /// Packets from other VMs waiting for this guest's receive buffers.
    static let peerInboxLimit = 4096

    public let deviceType = VirtioDeviceType.vsock
    public let queueCount = 3
    public let maxQueueSize: UInt16 = 1024
    public let deviceFeatures: VirtioFeatures = []
    public let configSize = 8
    public let cid: UInt64
    public let hostSocketPath: String

    let router: VsockRouter
    let logger: Logger
    // Not private: the host side (VsockHostSockets.swift, an extension) works on this state too.
    let sockets: Epoll
    let listener: UnixListener
    let wake: EventFD
    private let peerInbox = Mutex<[VsockPacket]>([])
    var outbox: [VsockPacket] = []
    var connections: [HostConnection.Key: HostConnection] = [:]
    var byDescriptor: [Int32: HostConnection] = [:]
    /// Accepted host sockets still sending their `CONNECT <port>` line.
    var greeting: [Int32: (socket: UnixSocket, line: [UInt8])] = [:]
    var nextHostPort: UInt32 = 0x4000_0000
    private var rx: DeviceQueue?
    private var tx: DeviceQueue?
    private var roundRobin = 0
    public private(set) var resets = 0

    static let listenerToken: UInt64 = 1 << 40

    public init(cid: UInt64, hostSocketPath: String, router: VsockRouter, logger: Logger) throws {
        precondition(cid > 2, "CIDs 0 to 2 are reserved")
        self.cid = cid
        self.hostSocketPath = hostSocketPath
        self.router = router
        self.logger = logger
        sockets = try Epoll()
        wake = try EventFD()
        listener = try UnixListener(path: hostSocketPath, backlog: 16)
        try sockets.add(listener.rawValue, token: Self.listenerToken)
        router.register(self)
    }

    // MARK: VirtioDevice

    public func readConfig(offset: Int, count: Int) -> [UInt8]? {
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: cid >> (8 * UInt64($0))) }
        guard offset >= 0, count >= 0, offset + count <= bytes.count else { return nil }
        return Array(bytes[offset..<offset + count])
    }

    public var eventDescriptors: [Int32] { [wake.rawValue, sockets.rawValue] }

    public func queueStarted(_ queue: DeviceQueue) {
        if queue.index == Self.receiveQueue { rx = queue } else if queue.index == Self.transmitQueue { tx = queue }
    }

    public func queueStopped(index: Int) {
        if index == Self.receiveQueue { rx = nil } else if index == Self.transmitQueue { tx = nil }
    }

    /// The guest rebooted or its VMM went away: every stream ends.
    public func reset() {
        for c in connections.values { close(c) }
        for (fd, g) in greeting { sockets.remove(fd); g.socket.shutdown() }
        greeting = [:]
        outbox = []
        peerInbox.withLock { $0 = [] }
        rx = nil
        tx = nil
    }

    public func process(_ queue: DeviceQueue) {
        if queue.index == Self.transmitQueue { transmit(queue) }
        fillReceiveBuffers()
    }

    public func handleEvent(descriptor: Int32) {
        if descriptor == wake.rawValue {
            wake.drain()
            outbox += peerInbox.withLock { p in defer { p = [] }; return p }
        } else {
            serviceSockets()
        }
        fillReceiveBuffers()
    }

    /// A packet from another VM (called on that VM's thread).
    func receiveFromPeer(_ packet: VsockPacket) -> Bool {
        let accepted = peerInbox.withLock { p -> Bool in
            guard p.count < Self.peerInboxLimit else { return false }
            p.append(packet)
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    // MARK: From the guest

    private func transmit(_ queue: DeviceQueue) {
        repeat {
            while let chain = queue.pop() {
                handle(chain)
                queue.complete(chain, written: 0)
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    private func handle(_ chain: DescriptorChain) {
        var reader = chain.reader()
        guard let head = try? reader.readBytes(VsockPacket.headerSize), var (packet, length) = VsockPacket.parse(header: head) else {
            logger.warning("vsock cid \(cid): packet shorter than its header dropped")
            return
        }
        guard Int(length) <= Self.maxPayload, Int(length) <= reader.remaining,
              let payload = try? reader.readBytes(Int(length)) else {
            logger.warning("vsock cid \(cid): packet announcing \(length) payload bytes dropped")
            return
        }
        packet.payload = payload
        // A guest speaks only for itself: a forged source CID is dropped.
        guard packet.sourceCID == cid else {
            logger.warning("vsock cid \(cid): packet claiming source CID \(packet.sourceCID) dropped")
            return
        }
        guard packet.type == VsockPacket.typeStream else {
            if packet.op == .request { send(.reset(answering: packet)) }
            return
        }
        switch packet.destinationCID {
        case VsockPacket.hostCID:
            fromGuestToHost(packet)
        case cid, 0, 1:
            if packet.op != .reset { send(.reset(answering: packet)) }
        default:
            if !router.forward(packet), packet.op != .reset {
                if packet.op == .request {
                    logger.info("vsock: cid \(cid) may not connect to cid \(packet.destinationCID) port \(packet.destinationPort); refused")
                }
                send(.reset(answering: packet))
            }
        }
    }

    private func fromGuestToHost(_ packet: VsockPacket) {
        let key = HostConnection.Key(guestPort: packet.sourcePort, hostPort: packet.destinationPort)
        let existing = connections[key]
        if let c = existing {
            c.guestBufferAllocation = packet.bufferAllocation
            c.guestForwardCount = packet.forwardCount
        }
        switch packet.op {
        case .request:
            guard existing == nil else { return }
            connectToHost(packet, key: key)
        case .response:
            guard let c = existing, !c.established else { return }
            c.established = true
            write(Array("OK \(key.hostPort)\n".utf8), to: c)
        case .readWrite:
            guard let c = existing, c.established else { send(.reset(answering: packet)); return }
            c.pending += packet.payload
            guard c.pending.count <= Int(Self.bufferAllocation) else {
                logger.warning("vsock cid \(cid): port \(key.guestPort) sent beyond its credit; connection reset")
                resetConnection(c)
                return
            }
            flush(c)
        case .creditRequest:
            guard let c = existing else { return }
            send(creditUpdate(c))
        case .shutdown:
            guard let c = existing else { return }
            flush(c)
            resetConnection(c)
        case .reset:
            if let c = existing { close(c) }
        case .creditUpdate, .none:
            break
        }
    }

    func connectToHost(_ packet: VsockPacket, key: HostConnection.Key) {
        let path = "\(hostSocketPath)_\(packet.destinationPort)"
        // Non-blocking: a host listener that stops accepting costs the guest a reset, never this thread.
        guard let socket = try? UnixSocket.connect(to: path, nonBlocking: true) else {
            send(.reset(answering: packet))
            return
        }
        try? socket.descriptor.setNonBlocking()
        let c = HostConnection(key: key, socket: socket, established: true)
        c.guestBufferAllocation = packet.bufferAllocation
        c.guestForwardCount = packet.forwardCount
        add(c)
        send(VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: cid, sourcePort: key.hostPort, destinationPort: key.guestPort,
                         operation: .response, bufferAllocation: Self.bufferAllocation, forwardCount: 0))
    }

    // MARK: To the guest

    func send(_ packet: VsockPacket) { outbox.append(packet) }

    func creditUpdate(_ c: HostConnection) -> VsockPacket {
        c.announcedForwardCount = c.forwardCount
        return VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: cid, sourcePort: c.key.hostPort,
                           destinationPort: c.key.guestPort, operation: .creditUpdate,
                           bufferAllocation: Self.bufferAllocation, forwardCount: c.forwardCount)
    }

    func resetConnection(_ c: HostConnection) {
        send(VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: cid, sourcePort: c.key.hostPort,
                         destinationPort: c.key.guestPort, operation: .reset))
        close(c)
    }

    func close(_ c: HostConnection) {
        sockets.remove(c.socket.rawValue)
        c.socket.shutdown()
        connections[c.key] = nil
        byDescriptor[c.socket.rawValue] = nil
        resets += 1
    }

    /// Fills the guest's receive buffers: queued packets first, then data from host sockets
    /// the guest has credit for. A buffer is taken only when something goes into it.
    func fillReceiveBuffers() {
        guard let rx else { return }
        func available() -> Bool { rx.hasAvailable || (rx.rearm() && rx.hasAvailable) }
        while available() {
            if !outbox.isEmpty {
                guard let chain = rx.pop() else { break }
                var packet = outbox.removeFirst()
                let room = max(0, chain.writableLength - VsockPacket.headerSize)
                if packet.payload.count > room {
                    // Split data larger than the guest's buffer; the rest goes next.
                    var rest = packet
                    rest.payload = Array(packet.payload[room...])
                    packet.payload = Array(packet.payload[..<room])
                    outbox.insert(rest, at: 0)
                }
                deliver(packet, into: chain, on: rx)
                continue
            }
            guard let c = nextReadyConnection() else { break }
            guard let chain = rx.pop() else { break }
            let room = max(0, chain.writableLength - VsockPacket.headerSize)
            let count = min(room, c.staged.count, c.guestCredit)
            let payload = Array(c.staged[..<count])
            c.staged.removeFirst(count)
            c.sentToGuest &+= UInt32(count)
            deliver(VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: cid, sourcePort: c.key.hostPort,
                                destinationPort: c.key.guestPort, operation: .readWrite,
                                bufferAllocation: Self.bufferAllocation, forwardCount: c.forwardCount, payload: payload),
                    into: chain, on: rx)
            c.announcedForwardCount = c.forwardCount
        }
        rx.notifyIfNeeded()
    }

    /// A connection with data staged for the guest and credit to send it, reading from its socket if needed.
    private func nextReadyConnection() -> HostConnection? {
        let all = Array(connections.values)
        guard !all.isEmpty else { return nil }
        for i in 0..<all.count {
            let c = all[(roundRobin + i) % all.count]
            guard c.established, c.guestCredit > 0 else { continue }
            if c.staged.isEmpty, c.readable, !c.hostClosed {
                var buffer = [UInt8](repeating: 0, count: min(64 * 1024, c.guestCredit))
                let n = buffer.withUnsafeMutableBytes { read(c.socket.rawValue, $0.baseAddress, $0.count) }
                if n > 0 {
                    c.staged = Array(buffer[0..<n])
                } else if n == 0 || errno != EAGAIN {
                    // The host process closed its end: tell the guest it will get nothing more.
                    c.hostClosed = true
                    c.readable = false
                    send(VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: cid, sourcePort: c.key.hostPort,
                                     destinationPort: c.key.guestPort, operation: .shutdown,
                                     flags: VsockPacket.shutdownReceive | VsockPacket.shutdownSend,
                                     bufferAllocation: Self.bufferAllocation, forwardCount: c.forwardCount))
                } else {
                    c.readable = false
                }
            }
            if !c.staged.isEmpty {
                roundRobin = (roundRobin + i + 1) % all.count
                return c
            }
        }
        return nil
    }

    private func deliver(_ packet: VsockPacket, into chain: DescriptorChain, on rx: DeviceQueue) {
        var writer = chain.writer()
        do {
            try writer.write(packet.header)
            try writer.write(packet.payload)
        } catch {
            rx.complete(chain, written: 0)
            return
        }
        rx.complete(chain, written: writer.written)
    }
}
