#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SystemCalls

/// A plain HTTP/1.1 client for tests of local web servers: sends raw request bytes to
/// 127.0.0.1:port and reads the response until the server closes.
public enum LoopbackHTTP {
    public struct Response: Sendable {
        public var status: Int
        /// Header names in lower case.
        public var headers: [String: String]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    public static func get(port: UInt16, _ path: String) throws -> Response {
        try send(port: port, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8))
    }

    public static func send(port: UInt16, _ request: [UInt8], timeoutSeconds: Int = 30) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failed(description: "socket: errno \(errno)") }
        let connection = FileDescriptor(adopting: fd)
        connection.setSocketTimeouts(seconds: timeoutSeconds)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw Failed(description: "connect 127.0.0.1:\(port): errno \(errno)") }
        try connection.writeAll(request)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try connection.read(into: $0) }
            if n == 0 { break }
            received += buffer[..<n]
        }
        guard let end = (0..<max(0, received.count - 3)).first(where: { received[$0..<$0 + 4] == [13, 10, 13, 10] }) else {
            throw Failed(description: "no response head in \(received.count) bytes")
        }
        let lines = String(decoding: received[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failed(description: "status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: Array(received[(end + 4)...]))
    }
}
