/// A test and the requirements it cites, in its own name or its suites' names.
public struct CitingTest: Hashable, Sendable {
    public var test: TestReference
    public var citations: [Citation]
    /// True if it runs a real guest (`RealGuestRule`).
    public var isRealGuest: Bool

    public init(test: TestReference, citations: [Citation]) {
        self.test = test
        self.citations = citations
        self.isRealGuest = RealGuestRule.isRealGuest(test)
    }

    /// Its citation of `id`, if any; a full one wins over a partial one.
    public func citation(of id: AVPSRequirementID) -> Citation? {
        let matching = citations.filter { $0.id == id }
        return matching.first { $0.partial == nil } ?? matching.first
    }
}
