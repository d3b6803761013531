import Foundation
import SystemCalls

/// Relays the terminal to a console socket: raw mode when stdin is a terminal,
/// Ctrl-] to detach, end of input or a closed console to finish.
struct ConsoleClient {
    let socket: UnixSocket
    static let detachKey: UInt8 = 0x1d

    func run() throws {
        let interactive = isatty(0) == 1
        var saved = termios()
        if interactive {
            tcgetattr(0, &saved)
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
            FileHandle.standardError.write(Data("[attached; Ctrl-] detaches]\r\n".utf8))
        }
        defer { if interactive { tcsetattr(0, TCSANOW, &saved) } }
        var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 4096)
        var inputOpen = true
        while true {
            fds[0].fd = inputOpen ? 0 : -1
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { break }
            if fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(socket.rawValue, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                _ = buffer.withUnsafeBytes { write(1, $0.baseAddress, n) }
            }
            if inputOpen, fds[0].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n <= 0 {
                    // End of input: keep printing output for a moment, then leave.
                    inputOpen = false
                    var wait = [pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)]
                    while poll(&wait, 1, 1500) > 0 {
                        let m = buffer.withUnsafeMutableBytes { read(socket.rawValue, $0.baseAddress, $0.count) }
                        if m <= 0 { break }
                        _ = buffer.withUnsafeBytes { write(1, $0.baseAddress, m) }
                    }
                    break
                }
                if interactive, let i = buffer[0..<n].firstIndex(of: Self.detachKey) {
                    if i > 0 { try socket.send(Array(buffer[0..<i])) }
                    break
                }
                try socket.send(Array(buffer[0..<n]))
            }
        }
    }
}
