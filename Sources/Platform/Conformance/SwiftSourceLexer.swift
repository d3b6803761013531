/// A token of Swift source, as far as finding test declarations needs: identifiers, string
/// literals (their value decoded) and single punctuation bytes. Comments and whitespace are
/// dropped; numbers and operators come as punctuation or identifiers, which is enough.
enum SwiftToken: Equatable, Sendable {
    case identifier(String)
    /// A string literal's value: escapes decoded, an interpolation kept as its source text.
    case string(String)
    case punctuation(UInt8)
}

/// A token and the line it starts on (1-based).
struct LocatedToken: Equatable, Sendable {
    var token: SwiftToken
    var line: Int
}

/// Splits Swift source into `SwiftToken`s: `"…"`, `"""…"""` and raw `#"…"#` strings with
/// interpolations nested to any depth (so braces and quotes inside them never count), `//`
/// and nested `/* */` comments, backquoted identifiers. Never traps on malformed input: an
/// unterminated string or comment ends at the end of the file (or, for a one-line string,
/// of its line).
struct SwiftSourceLexer {
    private let bytes: [UInt8]
    private var i = 0
    private var line = 1

    init(_ source: String) { bytes = Array(source.utf8) }

    static func tokens(of source: String) -> [LocatedToken] {
        var lexer = SwiftSourceLexer(source)
        return lexer.all()
    }

    private static let quote = UInt8(ascii: "\""), pound = UInt8(ascii: "#"), slash = UInt8(ascii: "/")
    private static let star = UInt8(ascii: "*"), backslash = UInt8(ascii: "\\"), newline = UInt8(ascii: "\n")
    private static let backtick = UInt8(ascii: "`"), openParen = UInt8(ascii: "("), closeParen = UInt8(ascii: ")")

    private func byte(_ offset: Int = 0) -> UInt8? {
        let j = i + offset
        return j >= 0 && j < bytes.count ? bytes[j] : nil
    }

    private static func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x24 || b >= 0x80
    }

    private mutating func all() -> [LocatedToken] {
        var tokens: [LocatedToken] = []
        while let b = byte() {
            let start = line
            if b == Self.newline {
                line += 1
                i += 1
            } else if b == 0x20 || b == 0x09 || b == 0x0D {
                i += 1
            } else if b == Self.slash, byte(1) == Self.slash {
                skipLineComment()
            } else if b == Self.slash, byte(1) == Self.star {
                skipBlockComment()
            } else if let pounds = rawStringPounds() {
                i += pounds
                tokens.append(LocatedToken(token: .string(readString(pounds: pounds)), line: start))
            } else if b == Self.quote {
                tokens.append(LocatedToken(token: .string(readString(pounds: 0)), line: start))
            } else if b == Self.backtick {
                i += 1
                let from = i
                while let c = byte(), c != Self.backtick, c != Self.newline { i += 1 }
                tokens.append(LocatedToken(token: .identifier(String(decoding: bytes[from..<i], as: UTF8.self)), line: start))
                if byte() == Self.backtick { i += 1 }
            } else if Self.isIdentifierByte(b) {
                let from = i
                while let c = byte(), Self.isIdentifierByte(c) { i += 1 }
                tokens.append(LocatedToken(token: .identifier(String(decoding: bytes[from..<i], as: UTF8.self)), line: start))
            } else {
                tokens.append(LocatedToken(token: .punctuation(b), line: start))
                i += 1
            }
        }
        return tokens
    }

    /// The number of `#` before a quote here (`#"`, `##"""`), or nil if this is no raw string.
    private func rawStringPounds() -> Int? {
        var n = 0
        while byte(n) == Self.pound { n += 1 }
        return n > 0 && byte(n) == Self.quote ? n : nil
    }

    private mutating func skipLineComment() {
        while let c = byte(), c != Self.newline { i += 1 }
    }

    private mutating func skipBlockComment() {
        var depth = 0
        while let c = byte() {
            if c == Self.slash, byte(1) == Self.star {
                depth += 1
                i += 2
            } else if c == Self.star, byte(1) == Self.slash {
                depth -= 1
                i += 2
                if depth == 0 { return }
            } else {
                if c == Self.newline { line += 1 }
                i += 1
            }
        }
    }

    /// True if a quote followed by `pounds` `#` starts at `i + offset`.
    private func closes(at offset: Int, pounds: Int) -> Bool {
        guard byte(offset) == Self.quote else { return false }
        return (0..<pounds).allSatisfy { byte(offset + 1 + $0) == Self.pound }
    }

    /// Reads a string literal whose opening quote is at `i` (its `#`s already passed) and returns its value.
    private mutating func readString(pounds: Int) -> String {
        let multiLine = byte(1) == Self.quote && byte(2) == Self.quote
        i += multiLine ? 3 : 1
        var value: [UInt8] = []
        if multiLine {
            // The content starts on the line after the opening delimiter.
            while let c = byte(), c == 0x20 || c == 0x09 { i += 1 }
            if byte() == Self.newline { i += 1; line += 1 }
        }
        while let c = byte() {
            if multiLine {
                if c == Self.quote, byte(1) == Self.quote, closes(at: 2, pounds: pounds) {
                    i += 3 + pounds
                    return Self.trimmedMultiLine(value)
                }
            } else if closes(at: 0, pounds: pounds) {
                i += 1 + pounds
                return String(decoding: value, as: UTF8.self)
            } else if c == Self.newline {
                break   // unterminated: the line ends it
            }
            if c == Self.backslash, (0..<pounds).allSatisfy({ byte(1 + $0) == Self.pound }) {
                i += 1 + pounds
                if byte() == Self.openParen {
                    let from = i
                    skipBalancedParentheses()
                    value += Array("\\(".utf8) + bytes[(from + 1)..<max(from + 1, i)]
                } else {
                    value += readEscape(multiLine: multiLine)
                }
                continue
            }
            if c == Self.newline { line += 1 }
            value.append(c)
            i += 1
        }
        return String(decoding: value, as: UTF8.self)
    }

    /// An escape after its backslash: the bytes it stands for.
    private mutating func readEscape(multiLine: Bool) -> [UInt8] {
        guard let c = byte() else { return [] }
        i += 1
        switch c {
        case UInt8(ascii: "n"): return [Self.newline]
        case UInt8(ascii: "t"): return [0x09]
        case UInt8(ascii: "r"): return [0x0D]
        case UInt8(ascii: "0"): return [0]
        case UInt8(ascii: "u") where byte() == UInt8(ascii: "{"):
            i += 1
            var digits: [UInt8] = []
            while let d = byte(), d != UInt8(ascii: "}"), d != Self.newline, digits.count < 8 { digits.append(d); i += 1 }
            if byte() == UInt8(ascii: "}") { i += 1 }
            guard let code = UInt32(String(decoding: digits, as: UTF8.self), radix: 16), let scalar = Unicode.Scalar(code) else { return [] }
            return Array(String(Character(scalar)).utf8)
        case Self.newline where multiLine:
            line += 1   // a line continuation
            return []
        default:
            return [c]   // \" \\ \' and anything unknown: the character itself
        }
    }

    /// Moves `i` from an opening parenthesis past its match, skipping strings and comments inside.
    private mutating func skipBalancedParentheses() {
        var depth = 0
        while let c = byte() {
            if c == Self.slash, byte(1) == Self.slash {
                skipLineComment()
            } else if c == Self.slash, byte(1) == Self.star {
                skipBlockComment()
            } else if let pounds = rawStringPounds() {
                i += pounds
                _ = readString(pounds: pounds)
            } else if c == Self.quote {
                _ = readString(pounds: 0)
            } else {
                if c == Self.openParen { depth += 1 }
                if c == Self.closeParen { depth -= 1 }
                if c == Self.newline { line += 1 }
                i += 1
                if depth == 0 { return }
            }
        }
    }

    /// A multi-line literal's value: its last line (the closing delimiter's indentation) removed
    /// and that indentation stripped from every line, as Swift does.
    private static func trimmedMultiLine(_ value: [UInt8]) -> String {
        var lines = String(decoding: value, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let indentation = lines.last.map { $0.prefix { $0 == " " || $0 == "\t" } } ?? ""
        if let last = lines.last, last.allSatisfy({ $0 == " " || $0 == "\t" }) { lines.removeLast() }
        return lines.map { $0.hasPrefix(indentation) ? String($0.dropFirst(indentation.count)) : String($0) }.joined(separator: "\n")
    }
}
