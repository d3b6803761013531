import SystemCalls

/// Sends each line (without its newline) on one connection to a `LineControlServer` and returns
/// the answer lines, stopping early if the server closes the connection.
func controlSocketExchange(_ path: String, _ lines: [[UInt8]]) throws -> [[UInt8]] {
    let socket = try UnixSocket.connect(to: path)
    socket.descriptor.setSocketTimeouts(seconds: 10)
    var answers: [[UInt8]] = []
    var pending: [UInt8] = []
    for line in lines {
        try socket.send(line + [0x0A])
        while !pending.contains(0x0A) {
            let piece = try socket.receive(upTo: 65536)
            guard !piece.bytes.isEmpty else { return answers }
            pending += piece.bytes
        }
        let end = pending.firstIndex(of: 0x0A)!
        answers.append(Array(pending[..<end]))
        pending.removeSubrange(...end)
    }
    return answers
}
