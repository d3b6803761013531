#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SystemCalls
import Virtio

/// The writing end of an input server's events socket (`TouchEventsSocket`): one `TouchLine`
/// per touch, connecting when first needed and again after the server restarted. It never
/// blocks its caller: touches are real time, a late move is worth nothing. A line that does not
/// fit the socket's buffer is dropped, except that a lost release closes the connection, which
/// makes the server release every contact of it: no finger stays on the screen.
public final class TouchEventsClient: TouchTarget, @unchecked Sendable {
    public let path: String
    private let logger: Logger
    private let state = Mutex<State>(State())

    private struct State {
        var socket: UnixSocket?
        var dropped = 0
        var failures = LogSampler(always: 2)
    }

    public init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
    }

    /// Touches dropped so far (the socket was full or the server was not there).
    public var dropped: Int { state.withLock { $0.dropped } }

    public func send(_ action: TouchAction) {
        let line = Array((action.description + "\n").utf8)
        state.withLock { s in
            if s.socket == nil {
                do { s.socket = try UnixSocket.connect(to: path, nonBlocking: true) } catch {
                    s.dropped += 1
                    if s.failures.record() { logger.warning("touch events: cannot reach \(path): \(error); touches are dropped until it is back") }
                    return
                }
            }
            do {
                // The stream is line-framed: a partial send would split a line, so only whole lines go.
                if case let .sent(n) = try s.socket!.sendNonBlocking(line), n == line.count { return }
                throw Errno(EAGAIN, call: "send")
            } catch {
                s.dropped += 1
                s.socket = nil   // a partial line or a lost release: start over on a new connection
                if s.failures.record() { logger.warning("touch events: \(path): \(error); reconnecting") }
            }
        }
    }
}
