/// What a probe concluded about one AVPS requirement that a back end alone decides.
public enum ProbeVerdict: String, Sendable, Equatable, CaseIterable {
    /// Every check the requirement needs passed.
    case met
    /// A check failed: the evidence says which.
    case notMet = "not met"
    /// The probe cannot tell from the vhost-user socket alone (or was not allowed to try).
    case notDecidable = "not decidable"
}

/// One requirement's verdict and the observations behind it.
public struct ProbeFinding: Sendable, Equatable {
    /// The AVPS v2.0 requirement number (`AVPS-v2.0-<id>`); the conformance table gives its title.
    public var requirement: Int
    public var verdict: ProbeVerdict
    /// One line: why this verdict.
    public var summary: String
    /// What was seen: feature bits, configuration values, request results.
    public var evidence: [String]

    public init(requirement: Int, verdict: ProbeVerdict, summary: String, evidence: [String] = []) {
        self.requirement = requirement
        self.verdict = verdict
        self.summary = summary
        self.evidence = evidence
    }

    /// `met` when every check holds, else `notMet` naming the first that failed.
    public static func checks(_ requirement: Int, _ checks: [(String, Bool)], met: String,
                              evidence: [String]) -> ProbeFinding {
        if let failed = checks.first(where: { !$0.1 }) {
            return ProbeFinding(requirement: requirement, verdict: .notMet, summary: failed.0, evidence: evidence)
        }
        return ProbeFinding(requirement: requirement, verdict: .met, summary: met, evidence: evidence)
    }
}
