/// One line of the matrix: a requirement, its status and the tests behind it.
public struct ConformanceRow: Sendable {
    public var requirement: AVPSRequirement
    public var status: RequirementStatus
    /// Real-guest tests citing it, full citations first, each in source order.
    public var realGuestTests: [CitingTest]
    /// Every other test citing it (unit, host-side, command-line tests).
    public var hostSideTests: [CitingTest]
    /// `--run`'s outcome for the real-guest tests it ran.
    public var outcomes: [TestReference: TestOutcome] = [:]

    /// The real-guest tests that prove it in full (citing it without "(partial").
    public var provingTests: [CitingTest] {
        realGuestTests.filter { $0.citation(of: requirement.id)?.partial == nil }
    }
}
