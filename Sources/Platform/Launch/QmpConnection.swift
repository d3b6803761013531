import Foundation
import SystemCalls

/// AVP's end of one QEMU's QMP monitor, a Unix socket QEMU listens on
/// (`-chardev socket,...,server=on,wait=off -mon chardev=...,mode=control`). Never blocks:
/// the supervisor calls `poll()` from its loop every tick, which connects when QEMU's socket
/// is there, answers the greeting with `qmp_capabilities` (qmp-spec.rst, "Capabilities
/// Negotiation"; QEMU sends no event before it), and returns the events that have arrived.
/// A QMP chardev serves one client at a time, so while AVP is connected nobody else is.
public final class QmpConnection {
    public enum State: Sendable, Equatable {
        /// QEMU's socket is not there or not accepting yet.
        case connecting
        case awaitingGreeting
        case negotiating
        /// Capabilities negotiated: events arrive.
        case ready
    }

    /// Something `poll` saw.
    public enum Notice: Sendable, Equatable {
        case event(name: String, data: [String: String])
        /// The handshake finished: events are delivered from now on.
        case ready(qemu: String)
        /// A line QEMU sent that is no QMP message, or a refused command; the connection goes on.
        case problem(String)
        /// QEMU closed the monitor (it exited); `poll` connects again if it is restarted.
        case closed
    }

    public let path: String
    public private(set) var state = State.connecting
    private var socket: UnixSocket?
    private var reader = QmpLineReader()
    /// From the greeting, for the log.
    private var qemuVersion = "?"
    /// Bytes read per `poll`, at most: one tick's worth; more waits for the next tick.
    static let readBudget = 256 << 10

    public init(path: String) { self.path = path }

    /// Drops the connection (the VM's QEMU is gone, or a new one starts); the next `poll` connects again.
    public func reset() {
        socket = nil
        reader = QmpLineReader()
        state = .connecting
    }

    public func poll() -> [Notice] {
        if socket == nil {
            guard let connected = try? UnixSocket.connect(to: path, nonBlocking: true) else { return [] }
            socket = connected
            state = .awaitingGreeting
        }
        guard let socket else { return [] }
        var notices: [Notice] = []
        var budget = Self.readBudget
        while budget > 0 {
            let received: UnixSocket.ReceiveResult
            do { received = try socket.receiveNonBlocking(upTo: min(budget, 16 << 10)) } catch {
                reset()
                return notices + [.closed]
            }
            switch received {
            case .wouldBlock:
                return notices
            case .endOfStream:
                reset()
                return notices + [.closed]
            case let .received(bytes):
                budget -= bytes.count
                for result in reader.feed(bytes) {
                    switch result {
                    case let .success(message): notices += handle(message, on: socket)
                    case let .failure(error): notices.append(.problem("QMP: \(error)"))
                    }
                }
                if self.socket == nil { return notices + [.closed] }
            }
        }
        return notices
    }

    private func handle(_ message: QmpMessage, on socket: UnixSocket) -> [Notice] {
        switch (state, message) {
        case let (.awaitingGreeting, .greeting(major, minor)):
            // 33 bytes into an empty socket buffer: sent whole, or the connection is broken.
            guard case .sent(QmpMessage.capabilitiesCommand.count)? = try? socket.sendNonBlocking(QmpMessage.capabilitiesCommand) else {
                reset()
                return []
            }
            state = .negotiating
            qemuVersion = "\(major.map(String.init) ?? "?").\(minor.map(String.init) ?? "?")"
            return []
        case (.negotiating, .success):
            state = .ready
            return [.ready(qemu: qemuVersion)]
        case let (_, .failure(_, errorClass, description)):
            return [.problem("QMP: QEMU refused a command: \(errorClass): \(description)")]
        case let (.ready, .event(name, data)):
            return [.event(name: name, data: data)]
        case (.ready, .success):
            return []
        default:
            return [.problem("QMP: an unexpected message while \(state): \(message)")]
        }
    }

}
