/// One stream between a guest port and a host port (CID 2): the connection life of VIRTIO 1.2
/// §5.10.6.5 (REQUEST/RESPONSE, SHUTDOWN, RST) with the buffer space (credit) accounting of
/// §5.10.6.3 in both directions, as Firecracker's `csm/connection.rs` but without the stream.
///
/// It holds no socket and sees no queue. Inputs are the guest's packets and what happened on
/// the host stream (`hostSent`, `hostTook`, `hostEnded`, `hostFailed`); outputs are packets for
/// the guest (`nextPacket`), bytes for the host (`toHost`, at most `readLimit` to read from it:
/// `hostReadLimit`) and `HostActions`. Every field the guest controls is taken as hostile: the
/// free-running counters use wrapping arithmetic, and both buffers are bounded (`toHost` by our
/// `bufferAllocation`, what is read from the host by `readLimit`).
public struct VsockConnection: Sendable {
    public struct Key: Hashable, Sendable {
        public var guestPort: UInt32
        public var hostPort: UInt32
        public init(guestPort: UInt32, hostPort: UInt32) {
            self.guestPort = guestPort
            self.hostPort = hostPort
        }
    }

    public enum Phase: Equatable, Sendable {
        /// A host process asked for the guest port; the guest has not answered (RESPONSE) yet.
        case connecting
        case established
        /// Reset by either side, or shut down both ways: only a RST owed to the guest may still go out.
        case closed
    }

    /// What the host stream must do; collected by the inputs, handed over by `takeHostActions()`.
    public struct HostActions: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The guest accepted a connection a host process asked for: tell that process.
        public static let connected = HostActions(rawValue: 1 << 0)
        /// The guest will send nothing more and the host took everything it sent: end of stream for the host.
        public static let shutdownWrite = HostActions(rawValue: 1 << 1)
        /// The guest will receive nothing more: the host process's further writes should fail.
        public static let shutdownRead = HostActions(rawValue: 1 << 2)
        /// The connection is over: close the host stream.
        public static let close = HostActions(rawValue: 1 << 3)
    }

    /// Packets owed to the guest, at most one of each kind (a set, so never a growing queue).
    private struct Owed: OptionSet {
        let rawValue: UInt8
        static let request = Owed(rawValue: 1 << 0)
        static let response = Owed(rawValue: 1 << 1)
        static let creditUpdate = Owed(rawValue: 1 << 2)
        static let shutdown = Owed(rawValue: 1 << 3)
        static let reset = Owed(rawValue: 1 << 4)
    }

    /// Receive buffer announced to the guest: bytes from it the host has not taken yet.
    public static let defaultBufferAllocation: UInt32 = 256 * 1024
    /// Most bytes read from the host at a time (and so staged for the guest).
    public static let readLimit = 64 * 1024
    static let shutdownBoth = VsockPacket.shutdownReceive | VsockPacket.shutdownSend

    public let guestCID: UInt64
    public let key: Key
    public let bufferAllocation: UInt32
    public private(set) var phase: Phase
    /// SHUTDOWN flags the guest sent; permanent once sent (§5.10.6.5).
    public private(set) var guestShutdown: UInt32 = 0
    /// The host stream ended; the guest gets a SHUTDOWN once the data read before is out.
    public private(set) var hostStreamEnded = false
    /// Why the guest's stream was reset, when the guest broke the protocol (for the log).
    public private(set) var violation: String?

    // Toward the guest (§5.10.6.3): its receive buffer, what it says it consumed, what it was sent.
    public private(set) var guestBufferAllocation: UInt32 = 0
    public private(set) var guestForwardCount: UInt32 = 0
    public private(set) var sentToGuest: UInt32 = 0
    /// Bytes read from the host, not yet sent to the guest.
    public private(set) var fromHost: [UInt8] = []

    // From the guest: bytes the host has not taken, what it took (our fwd_cnt), and when the guest last heard.
    public private(set) var toHost: [UInt8] = []
    public private(set) var forwardCount: UInt32 = 0
    private var announcedForwardCount: UInt32 = 0

    private var owed: Owed
    private var actions: HostActions = []
    private var hostWriteShut = false

    /// A connection the guest asked for with `request` (a REQUEST to CID 2) and the host side
    /// accepted: established, a RESPONSE owed.
    public init(accepting request: VsockPacket, bufferAllocation: UInt32 = defaultBufferAllocation) {
        guestCID = request.sourceCID
        key = Key(guestPort: request.sourcePort, hostPort: request.destinationPort)
        self.bufferAllocation = bufferAllocation
        phase = .established
        owed = [.response]
        guestBufferAllocation = request.bufferAllocation
        guestForwardCount = request.forwardCount
    }

    /// A connection a host process asked for: a REQUEST to the guest owed. `firstBytes` are what the
    /// process sent already (at most `readLimit`); they reach the guest once it answers.
    public init(guestCID: UInt64, key: Key, firstBytes: [UInt8] = [], bufferAllocation: UInt32 = defaultBufferAllocation) {
        self.guestCID = guestCID
        self.key = key
        self.bufferAllocation = bufferAllocation
        phase = .connecting
        owed = [.request]
        fromHost = Array(firstBytes.prefix(Self.readLimit))
    }

    // MARK: Inputs

    /// Whether `packet` belongs to this connection: a stream packet from the guest's CID and port
    /// to CID 2 and our port (§5.10.6.2: a flow is its address tuple).
    public func matches(_ packet: VsockPacket) -> Bool {
        packet.type == VsockPacket.typeStream && packet.sourceCID == guestCID && packet.destinationCID == VsockPacket.hostCID
            && packet.sourcePort == key.guestPort && packet.destinationPort == key.hostPort
    }

    /// A packet from the guest; one that does not `match` changes nothing.
    public mutating func receive(_ packet: VsockPacket) {
        guard phase != .closed, matches(packet) else { return }
        // §5.10.6.3: every packet of a flow carries the sender's buf_alloc and fwd_cnt.
        guestBufferAllocation = packet.bufferAllocation
        guestForwardCount = packet.forwardCount
        switch packet.op {
        case .response:
            guard phase == .connecting else { return }
            phase = .established
            actions.insert(.connected)
        case .readWrite:
            receiveData(packet.payload)
        case .creditRequest:
            owed.insert(.creditUpdate)
        case .shutdown:
            shutdownByGuest(flags: packet.flags)
        case .reset:
            close(owingReset: false)
        case .request, .creditUpdate, .none:
            break
        }
    }

    /// The host took `count` bytes from the front of `toHost`.
    public mutating func hostTook(_ count: Int) {
        guard phase != .closed else { return }
        let n = min(max(0, count), toHost.count)
        toHost.removeFirst(n)
        forwardCount &+= UInt32(n)
        // Tell the guest about freed space before it runs dry, not after every write.
        if forwardCount &- announcedForwardCount >= bufferAllocation / 4 { owed.insert(.creditUpdate) }
        if toHost.isEmpty { finishGuestShutdown() }
    }

    /// Bytes read from the host stream (the host side reads at most `hostReadLimit`).
    public mutating func hostSent(_ bytes: [UInt8]) {
        guard phase != .closed, guestShutdown & VsockPacket.shutdownReceive == 0 else { return }
        fromHost += bytes
    }

    /// The host stream ended (end of stream or a read error): the guest is told, with both
    /// SHUTDOWN flags, after the bytes read before; the connection stays until the guest resets it.
    public mutating func hostEnded() {
        guard phase != .closed, !hostStreamEnded else { return }
        hostStreamEnded = true
        owed.insert(.shutdown)
    }

    /// Writing to the host failed (the host process went away): the guest's stream is reset.
    public mutating func hostFailed() {
        guard phase != .closed else { return }
        close(owingReset: true)
    }

    /// The host actions due since the last call.
    public mutating func takeHostActions() -> HostActions {
        defer { actions = [] }
        return actions
    }

    private mutating func receiveData(_ payload: [UInt8]) {
        // Data before the guest accepted, or after it said it would send no more, breaks the protocol.
        guard phase == .established, guestShutdown & VsockPacket.shutdownSend == 0 else {
            violation = phase == .established ? "sent data after shutting down its sending side" : "sent data before accepting"
            close(owingReset: true)
            return
        }
        // §5.10.6.3: the guest MUST send only within the space we announced; one that does not is reset.
        guard payload.count <= Int(bufferAllocation) - toHost.count else {
            violation = "sent beyond its credit"
            close(owingReset: true)
            return
        }
        toHost += payload
    }

    private mutating func shutdownByGuest(flags: UInt32) {
        let added = flags & Self.shutdownBoth & ~guestShutdown
        guestShutdown |= added
        if added & VsockPacket.shutdownReceive != 0 {
            fromHost = []
            actions.insert(.shutdownRead)
        }
        if toHost.isEmpty { finishGuestShutdown() }
    }

    /// Once the host took what the guest sent: a guest that shut both ways is answered with
    /// RST (§5.10.6.5, clean disconnect); one that shut only its sending side gives the host its end of stream.
    private mutating func finishGuestShutdown() {
        if guestShutdown == Self.shutdownBoth {
            close(owingReset: true)
        } else if guestShutdown & VsockPacket.shutdownSend != 0, !hostWriteShut {
            hostWriteShut = true
            actions.insert(.shutdownWrite)
        }
    }

    private mutating func close(owingReset: Bool) {
        phase = .closed
        fromHost = []
        toHost = []
        owed = owingReset ? [.reset] : []
        actions.insert(.close)
    }

    // MARK: Outputs

    /// Bytes the guest can take: peer_free = buf_alloc - (tx_cnt - fwd_cnt) (§5.10.6.3), the
    /// difference wrapping as the counters do. Where the guest's numbers make no sense (it claims
    /// more in flight than its buffer) it gets no credit, never a huge one.
    public var guestCredit: Int { max(0, Int(guestBufferAllocation) - Int(sentToGuest &- guestForwardCount)) }

    /// How much the host side may read now: what the guest has room for, once what was read before is out.
    public var hostReadLimit: Int {
        guard phase == .established, !hostStreamEnded, guestShutdown & VsockPacket.shutdownReceive == 0, fromHost.isEmpty else { return 0 }
        return min(Self.readLimit, guestCredit)
    }

    /// Whether `nextPacket` has something for the guest.
    public var hasPacket: Bool {
        if phase == .closed { return owed.contains(.reset) }
        return !owed.subtracting(.shutdown).isEmpty || hasData || owed.contains(.shutdown) && fromHost.isEmpty
    }

    private var hasData: Bool {
        phase == .established && guestShutdown & VsockPacket.shutdownReceive == 0 && !fromHost.isEmpty && guestCredit > 0
    }

    /// The next packet for the guest, its payload at most `maxPayload` bytes: connection control
    /// first, then data within the guest's credit, then the SHUTDOWN for a host that ended.
    public mutating func nextPacket(maxPayload: Int) -> VsockPacket? {
        if phase == .closed {
            guard owed.contains(.reset) else { return nil }
            owed = []
            return VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: guestCID, sourcePort: key.hostPort,
                               destinationPort: key.guestPort, operation: .reset)
        }
        for (kind, op) in [(Owed.request, VsockPacket.Operation.request), (.response, .response), (.creditUpdate, .creditUpdate)]
        where owed.contains(kind) {
            owed.remove(kind)
            return packet(op)
        }
        // No room for a payload is no data packet: an empty RW would change nothing and come again.
        if hasData, maxPayload > 0 {
            let count = min(maxPayload, fromHost.count, guestCredit)
            let payload = Array(fromHost[..<count])
            fromHost.removeFirst(count)
            sentToGuest &+= UInt32(count)
            return packet(.readWrite, payload: payload)
        }
        if owed.contains(.shutdown), fromHost.isEmpty {
            owed.remove(.shutdown)
            return packet(.shutdown, flags: Self.shutdownBoth)
        }
        return nil
    }

    /// A packet from the host end, with our buffer space (the guest now knows `forwardCount`).
    private mutating func packet(_ op: VsockPacket.Operation, flags: UInt32 = 0, payload: [UInt8] = []) -> VsockPacket {
        announcedForwardCount = forwardCount
        return VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: guestCID, sourcePort: key.hostPort,
                           destinationPort: key.guestPort, operation: op, flags: flags,
                           bufferAllocation: bufferAllocation, forwardCount: forwardCount, payload: payload)
    }
}
