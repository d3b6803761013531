import Foundation

/// One requirement a test name cites, and whether the test says it proves only part of it.
public struct Citation: Hashable, Sendable {
    public var id: AVPSRequirementID
    /// The test's words after "(partial" ("i6300esb, not SBSA gwdt"), or nil for a full citation.
    public var partial: String?

    public init(_ id: AVPSRequirementID, partial: String? = nil) {
        self.id = id
        self.partial = partial
    }

    /// The citations in a test or suite name, and the id-like text it failed to read (`AVPS-v2.0-x`).
    ///
    /// Every `AVPS-v2.0-` in the name cites: `AVPS-v2.0-40, AVPS-v2.0-41: …`,
    /// `AVPS-v2.0-17/18/19: …` (a slash continues the numbers), `AVPS-v2.0-PENDING-SND: …`,
    /// `GPIO host side (AVPS-v2.0-37/38)`. A parenthesis right after an id (or a slash group)
    /// that starts with "partial" marks those ids partial: `AVPS-v2.0-35 (partial: i6300esb, not
    /// SBSA gwdt): …`; any other parenthesis (`AVPS-v2.0-2 (EBBR)`) is a remark.
    public static func parse(_ name: String) -> (citations: [Citation], malformed: [String]) {
        var citations: [Citation] = []
        var malformed: [String] = []
        var rest = Substring(name)
        while let found = rest.range(of: AVPSRequirementID.prefix) {
            rest = rest[found.upperBound...]
            var ids: [AVPSRequirementID] = []
            if rest.first?.isASCIIDigit == true {
                while true {
                    let digits = rest.prefix { $0.isASCIIDigit }
                    rest = rest.dropFirst(digits.count)
                    // Bounded: a number too long for Int is no requirement (and is reported).
                    if let n = digits.count <= 6 ? Int(digits) : nil, n > 0 { ids.append(.numbered(n)) } else {
                        malformed.append(AVPSRequirementID.prefix + digits)
                    }
                    guard rest.first == "/", rest.dropFirst().first?.isASCIIDigit == true else { break }
                    rest = rest.dropFirst()
                }
            } else if rest.hasPrefix("PENDING-") {
                let word = rest.dropFirst("PENDING-".count).prefix { $0.isASCII && ($0.isUppercase || $0.isNumber) }
                rest = rest.dropFirst("PENDING-".count + word.count)
                if word.isEmpty { malformed.append(AVPSRequirementID.prefix + "PENDING-") } else { ids.append(.pending(String(word))) }
            } else {
                malformed.append(AVPSRequirementID.prefix + rest.prefix { !$0.isWhitespace && $0 != ":" && $0 != "," }.prefix(20))
                continue
            }
            let note = partialNote(&rest)
            citations += ids.map { Citation($0, partial: note) }
        }
        return (citations, malformed)
    }

    /// If `rest` starts (after spaces) with "(partial…)", consumes it and returns the note.
    private static func partialNote(_ rest: inout Substring) -> String? {
        let afterSpaces = rest.drop { $0 == " " }
        guard afterSpaces.first == "(", afterSpaces.dropFirst().lowercased().hasPrefix("partial") else { return nil }
        var inside = afterSpaces.dropFirst().dropFirst("partial".count)
        let end = inside.firstIndex(of: ")") ?? inside.endIndex
        rest = end < inside.endIndex ? inside[inside.index(after: end)...] : inside[end...]
        inside = inside[..<end]
        let note = inside.drop { $0 == ":" || $0 == " " || $0 == "," }
        return note.isEmpty ? "partial" : String(note)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
