import ServerCommands

/// The bytes of a platform file, checked before any YAML parser sees them: at most
/// `PlatformLimits.fileBytes`, UTF-8 (refused, not repaired: a replaced byte would
/// silently change a path or a name), and only the characters YAML allows. Each
/// refusal names the line and column of the first offending byte, and shows no byte
/// of the file itself. (`EventScan` checks the structure next.)
enum SourceText {
    enum Decoded {
        case text(String)
        case refused(Diagnostic)
    }

    static func decode(_ bytes: [UInt8]) -> Decoded {
        if bytes.count > PlatformLimits.fileBytes {
            return .refused(Diagnostic(line: 1, column: 1, "the file is larger than \(PlatformLimits.fileBytes >> 20) MiB, the most a platform file may be",
                                       fix: "check that this is the platform file; split a platform that large into several"))
        }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            return .refused(Diagnostic(line: 1, column: 1, "the file is UTF-16 text (it starts with a UTF-16 byte-order mark)",
                                       fix: "save it as UTF-8"))
        }
        var position = Position()
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(bytes.count)
        decoding: while true {
            switch parser.parseScalar(from: &iterator) {
            case let .valid(encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if !isAllowed(scalar, at: position.offset) {
                    let code = "U+" + String(repeating: "0", count: max(0, 4 - String(scalar.value, radix: 16).count))
                        + String(scalar.value, radix: 16, uppercase: true)
                    return .refused(Diagnostic(line: position.line, column: position.column,
                                               "character \(code) is not allowed in a platform file: it is a control character, not text",
                                               fix: "remove it; inside a double-quoted string, write it as an escape such as \\t"))
                }
                scalars.append(scalar)
                position.advance(over: scalar, bytes: encoded.count)
            case let .error(length):
                let byte = bytes[position.offset]
                return .refused(Diagnostic(line: position.line, column: position.column,
                                           "the file is not UTF-8 text: byte 0x\(String(byte, radix: 16, uppercase: true)) at offset \(position.offset) "
                                           + "begins an invalid \(length == 1 ? "" : "\(length)-byte ")sequence",
                                           fix: "save the file as UTF-8"))
            case .emptyInput:
                break decoding
            }
        }
        // A byte-order mark says nothing in UTF-8; libyaml, told the encoding, would take it for text.
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars.first == "\u{FEFF}" ? scalars.dropFirst() : scalars[...])
        return .text(text)
    }

    /// YAML 1.2's printable characters (c-printable): tab, the line breaks, and everything
    /// but the C0 and C1 controls, DEL, surrogates and U+FFFE/U+FFFF. NEL (U+0085), which
    /// YAML also allows, is refused: it breaks lines for the parser but not in an editor.
    /// A byte-order mark is allowed only as the first character.
    static func isAllowed(_ scalar: Unicode.Scalar, at offset: Int) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D, 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFEFE, 0xFF00...0xFFFD, 0x10000...0x10FFFF: return true
        case 0xFEFF: return offset == 0
        default: return false
        }
    }

    /// Line and column (1-based, counted in Unicode scalars as libyaml counts them) and byte offset.
    struct Position {
        var line = 1
        var column = 1
        var offset = 0
        private var afterCR = false

        mutating func advance(over scalar: Unicode.Scalar, bytes: Int) {
            defer { offset += bytes }
            switch scalar {
            case "\u{FEFF}" where offset == 0:
                break   // a leading byte-order mark is not a column
            case "\n":
                if !afterCR { line += 1 }
                column = 1
            case "\r", "\u{2028}", "\u{2029}":
                line += 1
                column = 1
            default:
                column += 1
            }
            afterCR = scalar == "\r"
        }
    }
}
