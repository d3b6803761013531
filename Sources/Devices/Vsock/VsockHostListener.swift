import Logging
import SystemCalls

/// Host processes that connect to a VM's vsock socket and name the guest port they want
/// with a `CONNECT <port>\n` line (the convention of Firecracker and rust-vmm's
/// vhost-device-vsock). Owns the listening socket, the streams still greeting, and their
/// epoll; part of `VsockUnixMuxer`.
final class VsockHostListener {
    /// A host process that asked for a guest port.
    struct Greeted {
        let stream: NonBlockingStream
        let port: UInt32
        /// What it sent after the line (data for the guest).
        let firstBytes: [UInt8]
    }

    /// Longest greeting line; a process that sends more without a newline is dropped.
    static let lineLimit = 64
    private static let listenerToken: UInt64 = 1 << 40

    private let listener: UnixListener
    private let epoll: Epoll
    private let guestCID: UInt64
    private let logger: Logger
    private var waiting: [Int32: (stream: NonBlockingStream, line: [UInt8])] = [:]

    init(path: String, guestCID: UInt64, logger: Logger) throws {
        listener = try UnixListener(path: path, backlog: 16)
        epoll = try Epoll()
        self.guestCID = guestCID
        self.logger = logger
        try epoll.add(listener.rawValue, token: Self.listenerToken)
    }

    /// Readable when a process connects or a greeting has bytes.
    var eventDescriptor: Int32 { epoll.rawValue }

    /// Accepts new processes and reads greetings; returns the processes whose line is complete and valid.
    func poll() -> [Greeted] {
        guard let events = try? epoll.wait(timeoutMilliseconds: 0) else { return [] }
        var greeted: [Greeted] = []
        for event in events {
            if event.token == Self.listenerToken {
                acceptAll()
            } else if let g = readGreeting(Int32(truncatingIfNeeded: event.token)) {
                greeted.append(g)
            }
        }
        return greeted
    }

    /// Drops every process still greeting (the listener stays).
    func reset() {
        for (fd, w) in waiting {
            epoll.remove(fd)
            w.stream.shutdown()
        }
        waiting = [:]
    }

    private func acceptAll() {
        while let socket = (try? listener.accept()) ?? nil {
            guard let stream = try? NonBlockingStream(adopting: socket) else { continue }
            waiting[stream.rawValue] = (stream, [])
            try? epoll.add(stream.rawValue, events: [.readable, .peerClosed], token: UInt64(UInt32(bitPattern: stream.rawValue)))
        }
    }

    /// Reads what has arrived of one greeting; the process once its line is complete and valid.
    private func readGreeting(_ fd: Int32) -> Greeted? {
        guard var w = waiting[fd] else { return nil }
        switch try? w.stream.receive(upTo: Self.lineLimit) {
        case .wouldBlock?:
            return nil
        case let .received(bytes)?:
            w.line += bytes
        case .endOfStream?, nil:
            forget(fd)
            return nil
        }
        guard let newline = w.line.firstIndex(of: 0x0a) else {
            if w.line.count > Self.lineLimit { forget(fd) } else { waiting[fd] = w }
            return nil
        }
        forget(fd)
        let text = String(decoding: w.line[..<newline], as: UTF8.self)
        let parts = text.split(separator: " ")
        guard parts.count == 2, parts[0] == "CONNECT", let port = UInt32(parts[1]) else {
            logger.info("vsock cid \(guestCID): host sent '\(text)', not 'CONNECT <port>'; closed")
            return nil
        }
        return Greeted(stream: w.stream, port: port, firstBytes: Array(w.line[(newline + 1)...]))
    }

    private func forget(_ fd: Int32) {
        epoll.remove(fd)
        waiting[fd] = nil
    }
}
