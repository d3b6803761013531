import Foundation
import Platform
import Testing

/// The conformance matrix of this repository's own tests: every cited id is a requirement (a
/// test citing an unknown one fails here, so in CI), and "implemented" always has a real guest behind it.
@Suite struct ConformanceTreeTests {
    /// The package root (this file is Tests/PlatformTests/ConformanceTreeTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let testsDirectory = root.appendingPathComponent("Tests").path

    static func scan() throws -> TestTreeScan { try TestTreeScan.scan(directory: testsDirectory) }

    @Test("the table: requirements 1 to 50 once each in order, the pending VIRTIO-sound one, device kinds that exist")
    func table() {
        let ids = AVPSRequirement.all.map(\.id)
        #expect(ids == (1...50).map { .numbered($0) } + [.pending("SND")])
        #expect(AVPSRequirement.all.allSatisfy { !$0.title.isEmpty && !$0.chapter.isEmpty })
        #expect(AVPSRequirement.numbered(45)?.chapter == "2.19.4 Crypto acceleration")
        for requirement in AVPSRequirement.all {
            for case let .device(kind) in requirement.features {
                #expect(DeviceKind(rawValue: kind) != nil, "\(requirement.id) names device kind '\(kind)', which AVP does not have")
            }
        }
    }

    @Test("every requirement id any test or suite name cites is in the table, and each is well formed")
    func citedIDsExist() throws {
        let scan = try Self.scan()
        #expect(scan.problems.isEmpty, "\(scan.problems.map(\.description).joined(separator: "\n"))")
        #expect(scan.tests.count > 50)
    }

    @Test("every requirement reported implemented has a real-guest test in Tests/GuestTests that names it without '(partial'")
    func implementedMeansRealGuest() throws {
        let matrix = ConformanceMatrix(tests: try Self.scan().tests)
        let implemented = matrix.rows.filter { $0.status == .implemented }
        #expect(implemented.count >= 20)
        for row in implemented {
            let proofs = row.realGuestTests.filter { test in
                test.test.file.hasPrefix("Tests/GuestTests/")
                    && RealGuestRule.suiteSuffixes.contains { test.test.suite?.hasSuffix($0) == true }
                    && test.citations.contains { $0.id == row.requirement.id && $0.partial == nil }
            }
            #expect(!proofs.isEmpty, "\(row.requirement.id) is implemented without a real-guest proof")
        }
    }

    @Test("the current tree claims neither TrustZone (43) nor RPMB (44): both not applicable")
    func noTeeNoRpmb() throws {
        let matrix = ConformanceMatrix(tests: try Self.scan().tests)
        for n in [43, 44] {
            let row = try #require(matrix.rows.first { $0.requirement.id == .numbered(n) })
            #expect(row.status != .implemented)
            #expect(row.status.label == "not applicable")
        }
    }

    @Test("the real-guest suites the docs list are the ones the scan finds")
    func realGuestSuites() throws {
        let suites = Set(try Self.scan().tests.filter(\.isRealGuest).compactMap(\.test.suite))
        for suite in ["EntropyInRealGuest", "ArmGuests", "DebianArmGuest", "UefiPlatformGuest", "NetInRealGuests", "BlockInRealGuest"] {
            #expect(suites.contains(suite))
        }
        let docs = try String(contentsOf: Self.root.appendingPathComponent("docs/conformance.md"), encoding: .utf8)
        for suite in suites { #expect(docs.contains("`\(suite)`"), "docs/conformance.md does not list the real-guest suite \(suite)") }
    }

    @Test("the markdown matrix of this tree renders every requirement exactly once")
    func markdownOfTheTree() throws {
        let text = ConformanceFormat.markdown.render(ConformanceMatrix(tests: try Self.scan().tests))
        for requirement in AVPSRequirement.all {
            let rows = text.split(separator: "\n").filter { $0.hasPrefix("| \(requirement.id) |") }
            #expect(rows.count == 1, "\(requirement.id) has \(rows.count) rows")
        }
    }

    @Test("avp conformance: JSON of the tree from --tests; a bad citation exits 1 naming its file; --probe needs --kind")
    func command() throws {
        let run = try AVPExecutable.run(["conformance", "--tests", Self.testsDirectory, "--format", "json"])
        #expect(run.status == 0, "\(run.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        #expect((object["requirements"] as? [Any])?.count == AVPSRequirement.all.count)

        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("avp-conformance-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: bad) }
        try FileManager.default.createDirectory(at: bad.appendingPathComponent("Tests/GuestTests"), withIntermediateDirectories: true)
        try "@Suite struct XInRealGuest { @Test(\"AVPS-v2.0-51: beyond the spec\") func x() {} }\n"
            .write(to: bad.appendingPathComponent("Tests/GuestTests/X.swift"), atomically: true, encoding: .utf8)
        let refused = try AVPExecutable.run(["conformance", "--tests", bad.appendingPathComponent("Tests").path])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("Tests/GuestTests/X.swift:1: cites AVPS-v2.0-51"))

        let probe = try AVPExecutable.run(["conformance", "--probe", "/tmp/none.sock"])
        #expect(probe.status != 0 && !probe.crashed)
        #expect(probe.standardError.contains("--probe and --kind go together"))

        let missing = try AVPExecutable.run(["conformance", "--tests", bad.appendingPathComponent("nothing").path])
        #expect(missing.status == 1 && missing.standardError.contains("no Tests folder"))
    }
}
