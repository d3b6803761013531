import Platform
import SystemCalls
import ServerCommands

/// The host's end of a server's control socket (`LineControlServer`): one request line, one
/// answer line, with timeouts and a bound on the answer.
struct ControlSocketClient {
    let socket: UnixSocket
    /// "the GPU server": who answers, for messages.
    let server: String

    /// `file` is the platform file, named in the hint when the platform is not up.
    init(path: String, server: String, file: String) throws {
        do { socket = try UnixSocket.connect(to: path) } catch {
            throw CommandFailure("cannot reach \(server)'s control socket \(path): \(error) — is the platform up? (avp status \(file))")
        }
        socket.descriptor.setSocketTimeouts(seconds: 10)
        self.server = server
    }

    /// Sends `line` (without its newline) and returns the answer line (without its newline).
    func ask(_ line: [UInt8]) throws -> [UInt8] {
        try socket.send(line + [0x0A])
        var answer: [UInt8] = []
        while !answer.contains(0x0A) {
            let piece = try socket.receive(upTo: 65536)
            guard !piece.bytes.isEmpty else { throw CommandFailure("\(server) closed its control socket without answering") }
            answer += piece.bytes
            guard answer.count < 1 << 20 else { throw CommandFailure("\(server)'s answer is too long") }
        }
        return Array(answer[..<answer.firstIndex(of: 0x0A)!])
    }
}
