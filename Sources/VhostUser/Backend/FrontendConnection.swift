import SystemCalls

/// One accepted connection to a vhost-user socket. A connection becomes the device's
/// front end when it sends its first byte while no other front end holds the device;
/// until then it waits, and a connection that never speaks (or waits too long behind a
/// live front end) is dropped, so it cannot keep the socket from the VMM that needs it.
final class FrontendConnection {
    let socket: UnixSocket
    var reader = VhostUserMessageReader()
    /// Monotonic time of accept (or connect).
    let openedAt: Double

    init(socket: UnixSocket, openedAt: Double) {
        self.socket = socket
        self.openedAt = openedAt
    }

    var rawValue: Int32 { socket.rawValue }
}
