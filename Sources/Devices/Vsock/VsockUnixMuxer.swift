import Logging
import SystemCalls

/// The host side of a VM's vsock device over Unix sockets, as Firecracker's `unix/muxer.rs`,
/// with the convention of Firecracker and rust-vmm's vhost-device-vsock: a host process
/// connects to `path` and writes `CONNECT <port>\n` to reach a guest port (answered
/// `OK <host port>\n` once the guest accepts); a guest connecting to CID 2 port P reaches
/// the Unix socket `<path>_P`.
///
/// Owns every socket and their epoll, keeps one `VsockConnection` per stream, and moves bytes
/// between the two as the connection allows: it reads from a host stream only what the guest
/// has credit for, and the guest may have at most the connection's buffer allocation
/// waiting for a host process that does not read. Runs on the device's thread.
final class VsockUnixMuxer: VsockHostSide {
    /// One connection and the host stream it carries.
    private final class Link {
        var connection: VsockConnection
        let stream: NonBlockingStream
        /// The stream may have data (edge-triggered readiness, cleared when a read would block).
        var readable = true
        var watchingWritable = false

        init(_ connection: VsockConnection, _ stream: NonBlockingStream) {
            self.connection = connection
            self.stream = stream
        }
    }

    /// RSTs for the guest that belong to no live connection, beyond which they are dropped: the
    /// resources held outside the rx queue stay bounded (§5.10.6.1).
    static let outboxLimit = 4096
    /// Host ports AVP picks for connections host processes ask for.
    static let firstHostPort: UInt32 = 0x4000_0000
    /// Connections at once (Firecracker's muxer has a limit too): with each holding at most its
    /// buffer allocation for a host process that does not read, the device's total is bounded.
    static let defaultConnectionLimit = 1024

    let guestCID: UInt64
    let path: String
    let connectionLimit: Int
    /// Sum of every connection's `toHost`.
    private(set) var heldForHost = 0
    private var refusedForLimit = 0
    private let logger: Logger
    private let listener: VsockHostListener
    private let epoll: Epoll
    private var links: [VsockConnection.Key: Link] = [:]
    private var byDescriptor: [Int32: Link] = [:]
    private var outbox: [VsockPacket] = []
    /// The link `hasPacketForGuest` found, for the `nextPacketForGuest` that follows.
    private var ready: Link?
    private var nextHostPort = VsockUnixMuxer.firstHostPort
    private var roundRobin = 0

    init(guestCID: UInt64, path: String, logger: Logger, connectionLimit: Int = defaultConnectionLimit) throws {
        self.guestCID = guestCID
        self.path = path
        self.connectionLimit = connectionLimit
        self.logger = logger
        listener = try VsockHostListener(path: path, guestCID: guestCID, logger: logger)
        epoll = try Epoll()
    }

    // MARK: VsockHostSide

    var eventDescriptors: [Int32] { [listener.eventDescriptor, epoll.rawValue] }

    func handleEvent(descriptor: Int32) {
        if descriptor == listener.eventDescriptor {
            for greeted in listener.poll() { connectGuest(greeted) }
        } else {
            serviceStreams()
        }
    }

    func receive(fromGuest packet: VsockPacket) {
        let key = VsockConnection.Key(guestPort: packet.sourcePort, hostPort: packet.destinationPort)
        if let link = links[key] {
            accountingHeld(link) {
                link.connection.receive(packet)
                sync(link)
            }
            return
        }
        switch packet.op {
        case .request: connectHost(packet)
        case .readWrite: enqueue(.reset(answering: packet))
        default: break
        }
    }

    func hasPacketForGuest() -> Bool {
        if !outbox.isEmpty { return true }
        if ready == nil { ready = nextReadyLink() }
        return ready != nil
    }

    func nextPacketForGuest(maxPayload: Int) -> VsockPacket? {
        if !outbox.isEmpty { return outbox.removeFirst() }
        guard let link = ready ?? nextReadyLink() else { return nil }
        ready = nil
        return link.connection.nextPacket(maxPayload: maxPayload)
    }

    func reset() {
        for link in links.values {
            epoll.remove(link.stream.rawValue)
            link.stream.shutdown()
        }
        links = [:]
        byDescriptor = [:]
        heldForHost = 0
        outbox = []
        ready = nil
        listener.reset()
    }

    // MARK: Opening

    /// A guest's REQUEST to CID 2 port P: connect to `<path>_P` without waiting (a host listener
    /// that stops accepting costs the guest a RST, never this thread), or refuse with RST.
    private func connectHost(_ request: VsockPacket) {
        guard links.count < connectionLimit else {
            // A guest can ask endlessly: the first few, then every power of two.
            refusedForLimit += 1
            if refusedForLimit <= 4 || refusedForLimit & (refusedForLimit - 1) == 0 {
                logger.warning("vsock cid \(guestCID): \(connectionLimit) connections open; port \(request.sourcePort) refused (\(refusedForLimit) so far)")
            }
            enqueue(.reset(answering: request))
            return
        }
        guard let stream = try? NonBlockingStream.connect(to: "\(path)_\(request.destinationPort)") else {
            enqueue(.reset(answering: request))
            return
        }
        add(Link(VsockConnection(accepting: request), stream))
    }

    /// A host process asked for a guest port: a REQUEST goes to the guest from a host port not in use.
    private func connectGuest(_ greeted: VsockHostListener.Greeted) {
        guard links.count < connectionLimit else {
            greeted.stream.shutdown()
            return
        }
        for _ in 0...links.count {
            nextHostPort = nextHostPort == UInt32.max ? Self.firstHostPort : nextHostPort + 1
            let key = VsockConnection.Key(guestPort: greeted.port, hostPort: nextHostPort)
            guard links[key] == nil else { continue }
            add(Link(VsockConnection(guestCID: guestCID, key: key, firstBytes: greeted.firstBytes), greeted.stream))
            return
        }
        greeted.stream.shutdown()
    }

    private func add(_ link: Link) {
        links[link.connection.key] = link
        byDescriptor[link.stream.rawValue] = link
        try? epoll.add(link.stream.rawValue, events: Self.events(writable: false), token: UInt64(UInt32(bitPattern: link.stream.rawValue)))
    }

    // MARK: Host streams

    private func serviceStreams() {
        guard let events = try? epoll.wait(timeoutMilliseconds: 0) else { return }
        for event in events {
            guard let link = byDescriptor[Int32(truncatingIfNeeded: event.token)] else { continue }
            if !event.events.intersection([.readable, .hangup, .peerClosed, .error]).isEmpty { link.readable = true }
            if event.events.contains(.writable) { accountingHeld(link) { sync(link) } }
        }
    }

    /// Runs `body` on a link and keeps `heldForHost` in step with what it did to `toHost`.
    private func accountingHeld(_ link: Link, _ body: () -> Void) {
        let before = link.connection.toHost.count
        body()
        heldForHost += link.connection.toHost.count - before
    }

    /// Carries out what the connection asks of its host stream after an input.
    private func sync(_ link: Link) {
        var actions = link.connection.takeHostActions()
        if actions.contains(.connected) {
            // Protocol text for the host process, not guest data: outside the credit.
            _ = try? link.stream.send(Array("OK \(link.connection.key.hostPort)\n".utf8))
        }
        flush(link)
        actions.formUnion(link.connection.takeHostActions())
        if link.connection.phase == .closed {
            close(link)
            return
        }
        if actions.contains(.shutdownWrite) { link.stream.shutdown(.write) }
        if actions.contains(.shutdownRead) { link.stream.shutdown(.read) }
        let want = !link.connection.toHost.isEmpty
        if want != link.watchingWritable {
            link.watchingWritable = want
            try? epoll.modify(link.stream.rawValue, events: Self.events(writable: want), token: UInt64(UInt32(bitPattern: link.stream.rawValue)))
        }
    }

    /// Writes what the guest sent until the host stream is full; what does not fit waits.
    private func flush(_ link: Link) {
        while !link.connection.toHost.isEmpty {
            do {
                guard case let .sent(n) = try link.stream.send(link.connection.toHost), n > 0 else { return }
                link.connection.hostTook(n)
            } catch {
                link.connection.hostFailed()
                return
            }
        }
    }

    /// Reads from a stream what its connection may take (the guest's credit).
    private func fill(_ link: Link) {
        let limit = link.connection.hostReadLimit
        guard limit > 0, link.readable else { return }
        switch try? link.stream.receive(upTo: limit) {
        case let .received(bytes)?:
            link.connection.hostSent(bytes)
        case .wouldBlock?:
            link.readable = false
        case .endOfStream?, nil:
            link.readable = false
            link.connection.hostEnded()
        }
    }

    /// A connection with a packet for the guest, reading from host streams to find one; round
    /// robin, so one busy stream does not starve the others.
    private func nextReadyLink() -> Link? {
        let all = Array(links.values)
        for i in 0..<all.count {
            let link = all[(roundRobin + i) % all.count]
            if !link.connection.hasPacket { fill(link) }
            if link.connection.hasPacket {
                roundRobin = (roundRobin + i + 1) % all.count
                return link
            }
        }
        return nil
    }

    /// Ends a connection's host stream and forgets it; the RST it may owe the guest still goes out.
    private func close(_ link: Link) {
        if let violation = link.connection.violation {
            logger.warning("vsock cid \(guestCID): port \(link.connection.key.guestPort) \(violation); connection reset")
        }
        epoll.remove(link.stream.rawValue)
        link.stream.shutdown()
        byDescriptor[link.stream.rawValue] = nil
        links[link.connection.key] = nil
        if ready === link { ready = nil }
        while let packet = link.connection.nextPacket(maxPayload: 0) { enqueue(packet) }
    }

    private func enqueue(_ packet: VsockPacket) {
        guard outbox.count < Self.outboxLimit else { return }
        outbox.append(packet)
    }

    private static func events(writable: Bool) -> Epoll.Events {
        writable ? [.readable, .peerClosed, .edgeTriggered, .writable] : [.readable, .peerClosed, .edgeTriggered]
    }
}
