/// One requirement of the Automotive Virtual Platform Specification v2.0, as AVP's
/// conformance matrix lists it. The table (`AVPSRequirement.all`) lives in the repository, not
/// in the specification's text, so a fresh clone can check test names against it.
///
/// Whether AVP meets a requirement is never data here: only tests decide that
/// (`ConformanceMatrix`). The table says what is expected of AVP: a proof by tests, nothing
/// (not applicable, with the reason), or, where the hardware is absent, configuration only.
public struct AVPSRequirement: Sendable, Identifiable {
    /// What AVP owes a requirement.
    public enum Expectation: Sendable, Equatable {
        /// Tests must prove it: implemented with a real-guest test, partial or a gap otherwise.
        case proven
        /// AVP does not implement it and need not; the reason (optional feature, no hardware or
        /// driver to test it with). A test citing it still counts.
        case notApplicable(String)
        /// Hardware the requirement is about is absent where tests run, so tests can only show
        /// the configuration (platform file, QEMU command line); why, shown with those tests.
        case configurationOnly(String)
    }

    public let id: AVPSRequirementID
    /// A short summary in AVP's words (the specification's text is the authority).
    public let title: String
    /// The chapter of AVPS v2.0 stating it: "2.6.1 Block Devices".
    public let chapter: String
    public let expectation: Expectation
    /// What a platform file must configure for the requirement to concern it; empty: every platform.
    public let features: [PlatformFeature]

    public init(_ id: AVPSRequirementID, _ title: String, chapter: String,
                expectation: Expectation = .proven, features: [PlatformFeature] = []) {
        self.id = id
        self.title = title
        self.chapter = chapter
        self.expectation = expectation
        self.features = features
    }

    /// The requirement with this id, if the table has it.
    public static func find(_ id: AVPSRequirementID) -> AVPSRequirement? {
        all.first { $0.id == id }
    }

    /// `{AVPS-v2.0-n}`, for reports that cite requirements by number (the probe's).
    public static func numbered(_ n: Int) -> AVPSRequirement? { find(.numbered(n)) }

    /// True if `platform` configures something this requirement is about (always, for one without features).
    public func concerns(_ platform: Platform) -> Bool {
        features.isEmpty || features.contains { $0.isConfigured(in: platform) }
    }
}
