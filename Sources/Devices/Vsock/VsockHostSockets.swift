#if canImport(Glibc)
import Glibc
#endif
import SystemCalls

/// The host side of a VM's vsock device: host processes that connect to the device's
/// Unix socket and say `CONNECT <port>`, and the non-blocking reads and writes of every
/// host connection. Runs on the device's thread, from `handleEvent`.
extension VsockDevice {
    func serviceSockets() {
        guard let events = try? sockets.wait(timeoutMilliseconds: 0) else { return }
        for event in events {
            if event.token == Self.listenerToken {
                acceptHostConnections()
                continue
            }
            let fd = Int32(truncatingIfNeeded: event.token)
            if greeting[fd] != nil {
                readGreeting(fd)
            } else if let c = byDescriptor[fd] {
                if !event.events.intersection([.readable, .hangup, .peerClosed, .error]).isEmpty { c.readable = true }
                if event.events.contains(.writable) { flush(c) }
            }
        }
    }

    func acceptHostConnections() {
        while let socket = (try? listener.accept()) ?? nil {
            try? socket.descriptor.setNonBlocking()
            greeting[socket.rawValue] = (socket, [])
            try? sockets.add(socket.rawValue, events: [.readable, .peerClosed], token: UInt64(UInt32(bitPattern: socket.rawValue)))
        }
    }

    /// Reads the `CONNECT <port>\n` a host process starts with, then asks the guest.
    func readGreeting(_ fd: Int32) {
        guard var g = greeting[fd] else { return }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 || (n < 0 && errno != EAGAIN) {
            sockets.remove(fd)
            greeting[fd] = nil
            return
        }
        if n < 0 { return }
        g.line += buffer[0..<n]
        guard let newline = g.line.firstIndex(of: 0x0a) else {
            if g.line.count > 64 { sockets.remove(fd); greeting[fd] = nil } else { greeting[fd] = g }
            return
        }
        let text = String(decoding: g.line[..<newline], as: UTF8.self)
        let parts = text.split(separator: " ")
        sockets.remove(fd)
        greeting[fd] = nil
        guard parts.count == 2, parts[0] == "CONNECT", let port = UInt32(parts[1]) else {
            logger.info("vsock cid \(cid): host sent '\(text)', not 'CONNECT <port>'; closed")
            return
        }
        nextHostPort = nextHostPort == UInt32.max ? 0x4000_0000 : nextHostPort + 1
        let key = HostConnection.Key(guestPort: port, hostPort: nextHostPort)
        let c = HostConnection(key: key, socket: g.socket, established: false)
        c.staged = Array(g.line[(newline + 1)...])
        add(c)
        send(VsockPacket(sourceCID: VsockPacket.hostCID, destinationCID: cid, sourcePort: key.hostPort, destinationPort: port,
                         operation: .request, bufferAllocation: Self.bufferAllocation, forwardCount: 0))
    }

    func add(_ c: HostConnection) {
        connections[c.key] = c
        byDescriptor[c.socket.rawValue] = c
        try? sockets.add(c.socket.rawValue, events: [.readable, .peerClosed, .edgeTriggered], token: UInt64(UInt32(bitPattern: c.socket.rawValue)))
        c.readable = true
    }

    /// Writes what the guest sent; what does not fit waits, and the guest learns how much was consumed.
    func flush(_ c: HostConnection) {
        if !c.pending.isEmpty {
            let n = c.pending.withUnsafeBytes { Glibc.send(c.socket.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 {
                c.pending.removeFirst(n)
                c.forwardCount &+= UInt32(n)
            } else if n < 0, errno != EAGAIN {
                resetConnection(c)
                return
            }
        }
        let want = !c.pending.isEmpty
        if want != c.wantsWritable {
            c.wantsWritable = want
            let events: Epoll.Events = want ? [.readable, .peerClosed, .edgeTriggered, .writable] : [.readable, .peerClosed, .edgeTriggered]
            try? sockets.modify(c.socket.rawValue, events: events, token: UInt64(UInt32(bitPattern: c.socket.rawValue)))
        }
        if c.forwardCount &- c.announcedForwardCount >= Self.bufferAllocation / 4 { send(creditUpdate(c)) }
    }

    /// Protocol text for the host process (the `OK <port>` answer): not guest data, no credit.
    func write(_ bytes: [UInt8], to c: HostConnection) {
        _ = bytes.withUnsafeBytes { Glibc.send(c.socket.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }
}
