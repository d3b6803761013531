import ArgumentParser

/// How `avp conformance` prints: an aligned table, a Markdown table (the README's), or JSON.
public enum ConformanceFormat: String, CaseIterable, Sendable, ExpressibleByArgument {
    case text, markdown, json

    /// `matrix` in this format.
    public func render(_ matrix: ConformanceMatrix) -> String {
        switch self {
        case .text: ConformanceText.render(matrix)
        case .markdown: ConformanceMarkdown.render(matrix)
        case .json: ConformanceJSON.render(matrix)
        }
    }
}

extension ConformanceMatrix {
    /// "41 implemented, 5 partial, …": the counts in a fixed order, statuses absent left out.
    public var summary: String {
        let counts = self.counts
        let order = ["implemented", "failed", "partial", "not applicable", "not configured", "gap"]
        return order.compactMap { label in counts[label].map { "\($0) \(label)" } }.joined(separator: ", ")
            + " (\(rows.count) requirements)"
    }
}

extension TestOutcome {
    /// ✔ passed, ✘ failed or gave no result, ↪ skipped: swift-testing's marks.
    var mark: String {
        switch self {
        case .passed: "✔"
        case .failed, .noResult: "✘"
        case .skipped: "↪"
        }
    }
}
