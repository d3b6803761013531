/// Every AVPS requirement with its status, derived from the tests that cite it (never from a
/// flag in the table): implemented when a real-guest test cites it in full; partial when only
/// partial real-guest citations or host-side tests do (the table's configuration-only note
/// says why for hardware absent here); not applicable when the table says AVP need not and no
/// test cites it; a gap otherwise. With a platform, a requirement about nothing it configures
/// is "not configured".
public struct ConformanceMatrix: Sendable {
    public var rows: [ConformanceRow]
    /// The platform's name, if the matrix is for one platform file.
    public var platformName: String?

    public init(requirements: [AVPSRequirement] = AVPSRequirement.all, tests: [CitingTest], platform: Platform? = nil) {
        platformName = platform?.name
        rows = requirements.map { requirement in
            let citing = tests.filter { $0.citation(of: requirement.id) != nil }
            let real = citing.filter(\.isRealGuest)
            let full = real.filter { $0.citation(of: requirement.id)?.partial == nil }
            var row = ConformanceRow(requirement: requirement, status: .gap(nil),
                                     realGuestTests: full + real.filter { !full.contains($0) },
                                     hostSideTests: citing.filter { !$0.isRealGuest })
            if let platform, !requirement.concerns(platform) {
                row.status = .notConfigured("the platform has no " + requirement.features.map { "\($0)".dropping("a ", "an ") }
                    .joined(separator: " and no "))
            } else if !full.isEmpty {
                row.status = .implemented
            } else if !citing.isEmpty {
                row.status = .partial(Self.partialReason(requirement, realGuest: real, hostSide: row.hostSideTests))
            } else if case let .notApplicable(reason) = requirement.expectation {
                row.status = .notApplicable(reason)
            } else if case let .configurationOnly(note) = requirement.expectation {
                row.status = .gap("no test yet; expected configuration only: \(note)")
            }
            return row
        }
    }

    /// Why tests citing a requirement do not prove all of it.
    private static func partialReason(_ requirement: AVPSRequirement, realGuest: [CitingTest], hostSide: [CitingTest]) -> String {
        var reasons: [String] = []
        if case let .configurationOnly(note) = requirement.expectation { reasons.append("configuration only: \(note)") }
        for test in realGuest {
            if let note = test.citation(of: requirement.id)?.partial, !reasons.contains(note) { reasons.append(note) }
        }
        if realGuest.isEmpty, reasons.isEmpty {
            reasons.append("no real-guest test; \(hostSide.count) host-side test\(hostSide.count == 1 ? "" : "s")")
        }
        return reasons.joined(separator: "; ")
    }

    /// The real-guest tests `--run` runs: those citing a requirement that is implemented or
    /// partial here, each once, in source order.
    public var testsToRun: [TestReference] {
        var seen = Set<TestReference>()
        var result: [TestReference] = []
        for row in rows {
            switch row.status {
            case .implemented, .partial: break
            default: continue
            }
            for test in row.realGuestTests where seen.insert(test.test).inserted { result.append(test.test) }
        }
        return result.sorted()
    }

    /// The matrix after `--run`: each row's outcomes, and "failed" for a requirement one of whose
    /// real-guest tests failed or gave no result, or whose proving tests all were skipped.
    public func applying(_ outcomes: [TestReference: TestOutcome]) -> ConformanceMatrix {
        var copy = self
        for index in copy.rows.indices {
            var row = copy.rows[index]
            let ran = row.realGuestTests.compactMap { test in outcomes[test.test].map { (test.test, $0) } }
            row.outcomes = Dictionary(ran, uniquingKeysWith: { first, _ in first })
            let bad = ran.filter { $0.1 == .failed || $0.1 == .noResult }
            if !bad.isEmpty {
                row.status = .failed(bad.map { "\($0.0.name) \($0.1.rawValue)" }.joined(separator: "; "))
            } else if row.status == .implemented, !row.provingTests.contains(where: { outcomes[$0.test] == .passed }) {
                row.status = .failed("no proving test passed (" + row.provingTests.map { "\($0.test.name) \((outcomes[$0.test] ?? .noResult).rawValue)" }
                    .joined(separator: "; ") + ")")
            }
            copy.rows[index] = row
        }
        return copy
    }

    /// How many rows have each status label.
    public var counts: [String: Int] {
        rows.reduce(into: [:]) { $0[$1.status.label, default: 0] += 1 }
    }
}

extension String {
    /// The string without the first of `prefixes` it starts with.
    fileprivate func dropping(_ prefixes: String...) -> String {
        for p in prefixes where hasPrefix(p) { return String(dropFirst(p.count)) }
        return self
    }
}
