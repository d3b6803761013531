#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// The request line and headers of an HTTP/1.1 request to the web view (RFC 9112 §2-§5),
/// just what a browser sends for GET: method, path, query. The web view listens on
/// 127.0.0.1 only, yet any local process may connect, so the parser trusts nothing: the
/// head is bounded (`maxSize`), only printable ASCII is accepted, and a percent escape
/// must be two hex digits.
public struct HTTPRequestHead: Sendable, Equatable {
    /// Browsers send well under 2 KiB for these pages; more is refused (431).
    public static let maxSize = 8192
    public static let maxHeaders = 64

    public var method: String
    /// Percent-decoded, starting with "/".
    public var path: String
    /// Percent-decoded names and values; a name given twice keeps its last value.
    public var query: [String: String]
    /// Header names in lower case.
    public var headers: [String: String]

    /// Where the head ends in `bytes` (the index after its blank line), or nil while it is
    /// incomplete.
    public static func end(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count where bytes[i] == 0x0A {
            if bytes[i - 1] == 0x0D, bytes[i - 2] == 0x0A, bytes[i - 3] == 0x0D { return i + 1 }
        }
        return nil
    }

    public init(parsing bytes: ArraySlice<UInt8>) throws(HTTPRequestError) {
        guard bytes.count <= Self.maxSize else { throw .tooLarge }
        guard bytes.allSatisfy({ $0 == 0x0D || $0 == 0x0A || (0x20...0x7E).contains($0) }) else { throw .notPrintableASCII }
        var lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        while lines.last == "" { lines.removeLast() }
        guard let requestLine = lines.first else { throw .malformedRequestLine }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isUppercase }) else { throw .malformedRequestLine }
        guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else { throw .unsupportedVersion }
        let target = parts[1]
        guard target.hasPrefix("/") else { throw .malformedRequestLine }
        method = String(parts[0])
        let pieces = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = try Self.percentDecoded(pieces[0])
        query = [:]
        if pieces.count == 2 {
            for pair in pieces[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[try Self.percentDecoded(kv[0])] = kv.count == 2 ? try Self.percentDecoded(kv[1]) : ""
            }
        }
        headers = [:]
        let fields = lines.dropFirst()
        guard fields.count <= Self.maxHeaders else { throw .tooLarge }
        for line in fields {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                  !line[..<colon].contains(where: { $0 == " " || $0 == "\t" }), !line.contains("\n") else { throw .malformedHeader }
            let value = line[line.index(after: colon)...].trimmed()
            headers[line[..<colon].lowercased()] = value
        }
    }

    /// "%41" → "A"; "+" stays "+". Throws on a bad escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) throws(HTTPRequestError) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard utf8.count >= 2, let high = hexValue(utf8.removeFirst()), let low = hexValue(utf8.removeFirst()) else { throw .badEscape }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .badEscape }
        return decoded
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a request head was refused; each maps to the status the web view answers with.
public enum HTTPRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLarge
    case notPrintableASCII
    case malformedRequestLine
    case unsupportedVersion
    case malformedHeader
    case badEscape

    public var status: HTTPStatus {
        switch self {
        case .tooLarge: .headerTooLarge
        case .unsupportedVersion: .versionNotSupported
        default: .badRequest
        }
    }

    public var description: String {
        switch self {
        case .tooLarge: "the request head is larger than \(HTTPRequestHead.maxSize) bytes or has more than \(HTTPRequestHead.maxHeaders) headers"
        case .notPrintableASCII: "the request head has bytes that are not printable ASCII"
        case .malformedRequestLine: "the request line is not 'METHOD /path HTTP/1.1'"
        case .unsupportedVersion: "only HTTP/1.0 and HTTP/1.1 are spoken"
        case .malformedHeader: "a header line is not 'Name: value'"
        case .badEscape: "a percent escape is not two hex digits, or decodes to bytes that are not UTF-8"
        }
    }
}
