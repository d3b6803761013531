import Foundation

/// The matrix as a Markdown table (the README's): Requirement | Title | Status | Evidence, the
/// evidence being the real-guest tests by function and suite, then a count of host-side tests.
enum ConformanceMarkdown {
    static func render(_ matrix: ConformanceMatrix) -> String {
        var lines = [
            "| Requirement | Title | Status | Evidence (test names, suite) |",
            "|---|---|---|---|",
        ]
        for row in matrix.rows {
            let status = "**\(row.status.label)**" + (row.status.reason.map { ": " + escaped($0) } ?? "")
            lines.append("| \(row.requirement.id) | \(escaped(row.requirement.title)) | \(status) | \(evidence(row)) |")
        }
        lines.append("")
        lines.append((matrix.platformName.map { "Platform '\(escaped($0))': " } ?? "") + matrix.summary + ".")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func evidence(_ row: ConformanceRow) -> String {
        var items: [String] = row.realGuestTests.map { test in
            let mark = row.outcomes[test.test].map { $0.mark + " " } ?? ""
            let partial = test.citation(of: row.requirement.id)?.partial != nil ? " (partial)" : ""
            return mark + "`\(test.test.function)` (\(test.test.suite ?? test.test.target))" + partial
        }
        if !row.hostSideTests.isEmpty {
            var suites: [String] = []
            for test in row.hostSideTests {
                let suite = test.test.suite ?? test.test.target
                if !suites.contains(suite) { suites.append(suite) }
            }
            let count = row.hostSideTests.count
            items.append("\(items.isEmpty ? "" : "+ ")\(count) host-side test\(count == 1 ? "" : "s") (\(suites.joined(separator: ", ")))")
        }
        return items.isEmpty ? "—" : items.joined(separator: "<br>")
    }

    /// Cell text that cannot break the table: pipes escaped, line breaks as spaces.
    static func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}

