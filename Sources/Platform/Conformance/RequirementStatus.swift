/// Where AVP stands on one requirement, as its tests show.
public enum RequirementStatus: Hashable, Sendable {
    /// A real-guest test cites it without "(partial" (and, after `--run`, such tests passed).
    case implemented
    /// Tests cite it, but none is a full real-guest proof; why.
    case partial(String)
    /// AVP does not implement it and need not; why (from the table).
    case notApplicable(String)
    /// The platform file given configures nothing it is about; what it would need.
    case notConfigured(String)
    /// Nothing proves it; a note where the table expects configuration-only tests.
    case gap(String?)
    /// `--run`: tests that prove it failed or gave no result; which.
    case failed(String)

    /// One word or two, stable: what JSON's "status" holds.
    public var label: String {
        switch self {
        case .implemented: "implemented"
        case .partial: "partial"
        case .notApplicable: "not applicable"
        case .notConfigured: "not configured"
        case .gap: "gap"
        case .failed: "failed"
        }
    }

    public var reason: String? {
        switch self {
        case .implemented: nil
        case let .partial(r), let .notApplicable(r), let .notConfigured(r), let .failed(r): r
        case let .gap(note): note
        }
    }
}

/// What one test did under `--run`.
public enum TestOutcome: String, Hashable, Sendable, Codable {
    case passed, failed, skipped
    /// `swift test` ended without reporting it.
    case noResult = "no result"
}
