/// What a probe of one back end found, in three renderings for `avp conformance --probe --format`.
public struct ProbeReport: Sendable, Equatable {
    public var socket: String
    public var kind: ProbeKind
    public var allowWrites: Bool
    public var findings: [ProbeFinding]

    public init(socket: String, kind: ProbeKind, allowWrites: Bool, findings: [ProbeFinding]) {
        self.socket = socket
        self.kind = kind
        self.allowWrites = allowWrites
        self.findings = findings
    }

    /// The finding for requirement `id`, if the probe covers it.
    public func finding(_ id: Int) -> ProbeFinding? { findings.first { $0.requirement == id } }

    /// Counts per verdict, in `ProbeVerdict.allCases` order.
    public var tally: [(ProbeVerdict, Int)] {
        ProbeVerdict.allCases.map { verdict in (verdict, findings.filter { $0.verdict == verdict }.count) }
    }

    private var tallyLine: String { tally.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ") }

    /// Plain text: one block per requirement, evidence indented.
    public var text: String {
        var lines = ["Probe of \(socket) as \(kind.rawValue) (vhost-user back end)\(allowWrites ? ", writes allowed" : "")"]
        for finding in findings {
            lines.append("AVPS-v2.0-\(finding.requirement): \(finding.verdict.rawValue): \(finding.summary)")
            lines += finding.evidence.map { "    " + $0 }
        }
        lines.append("Summary: \(tallyLine)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Markdown table and the evidence under it.
    public var markdown: String {
        var lines = ["## Probe of `\(socket)` as `\(kind.rawValue)`\(allowWrites ? " (writes allowed)" : "")", "",
                     "| Requirement | Verdict | Why |", "|---|---|---|"]
        for finding in findings {
            lines.append("| AVPS-v2.0-\(finding.requirement) | \(finding.verdict.rawValue) | \(Self.cell(finding.summary)) |")
        }
        lines += ["", "Summary: \(tallyLine)", "", "### Evidence", ""]
        for finding in findings {
            lines.append("- **AVPS-v2.0-\(finding.requirement)**")
            lines += finding.evidence.map { "  - " + $0 }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object: `socket`, `kind`, `allowWrites`, `findings` [{requirement, id, verdict, summary, evidence}].
    public var json: String {
        let items = findings.map { finding in
            "{\"requirement\":\(finding.requirement),\"id\":\(Self.quote("AVPS-v2.0-\(finding.requirement)")),"
                + "\"verdict\":\(Self.quote(finding.verdict.rawValue)),\"summary\":\(Self.quote(finding.summary)),"
                + "\"evidence\":[\(finding.evidence.map(Self.quote).joined(separator: ","))]}"
        }
        return "{\"socket\":\(Self.quote(socket)),\"kind\":\(Self.quote(kind.rawValue)),\"allowWrites\":\(allowWrites),"
            + "\"findings\":[\(items.joined(separator: ","))]}\n"
    }

    /// A JSON string literal (RFC 8259 §7).
    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A table cell: pipes escaped, one line.
    static func cell(_ string: String) -> String {
        var out = ""
        for character in string {
            switch character {
            case "|": out += "\\|"
            case "\n", "\r\n": out += " "
            default: out.append(character)
            }
        }
        return out
    }
}
