/// Text from a platform file (or a command line) made safe to print in a message.
///
/// A file can hold anything: escape sequences that clear or rewrite the terminal,
/// bidirectional overrides that make a message read differently from what it says
/// (CVE-2021-42574), newlines that forge further `FILE:LINE:COLUMN: error:` lines,
/// or a megabyte on one line. Messages show such text escaped (`\u{1B}`) and cut short.
public enum UserText {
    /// Characters shown before a value is cut short with "…".
    public static let displayLimit = 60

    /// `'text'`, escaped and at most `limit` characters long.
    public static func quoted(_ text: String, limit: Int = displayLimit) -> String {
        "'" + shortened(text, limit: limit) + "'"
    }

    /// `text` escaped and at most `limit` characters long (then ending in "…").
    public static func shortened(_ text: String, limit: Int = displayLimit) -> String {
        var result = ""
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown == limit { return result + "…" }
            result += escaped(scalar)
            shown += 1
        }
        return result
    }

    /// Every character a terminal would act on, escaped; the rest unchanged.
    public static func escapingControlCharacters(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars { result += escaped(scalar) }
        return result
    }

    /// C0 and C1 controls, DEL, bidirectional embeddings, overrides and isolates, the
    /// line and paragraph separators, and the byte-order mark.
    public static func isUnprintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069, 0xFEFF: return true
        default: return false
        }
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default:
            guard isUnprintable(scalar) else { return String(scalar) }
            return "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }
}
