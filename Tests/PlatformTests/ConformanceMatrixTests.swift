import Foundation
@testable import Platform
import Testing

/// How the matrix turns citations into statuses, and how it prints.
@Suite struct ConformanceMatrixTests {
    static let requirements: [AVPSRequirement] = [
        .init(.numbered(1), "proven in a guest", chapter: "1"),
        .init(.numbered(2), "only partly", chapter: "1"),
        .init(.numbered(3), "only host-side | piped", chapter: "1"),
        .init(.numbered(4), "optional, not done", chapter: "1", expectation: .notApplicable("optional")),
        .init(.numbered(5), "nothing yet", chapter: "1"),
        .init(.numbered(6), "no hardware", chapter: "1", expectation: .configurationOnly("no NIC here")),
        .init(.numbered(7), "no hardware, no test", chapter: "1", expectation: .configurationOnly("no USB here")),
        .init(.numbered(8), "optional but done", chapter: "1", expectation: .notApplicable("optional")),
        .init(.pending("SND"), "pending", chapter: "2.9", features: [.device("sound")]),
    ]

    static func test(_ suite: String, _ function: String, target: String = "GuestTests", _ citations: [Citation]) -> CitingTest {
        CitingTest(test: TestReference(target: target, suitePath: [suite], function: function, displayName: "\(function) name",
                                       file: "Tests/\(target)/\(suite).swift", line: 1), citations: citations)
    }

    static let tests = [
        test("OneInRealGuest", "full", [Citation(.numbered(1)), Citation(.numbered(2), partial: "half")]),
        test("TwoGuests", "half", [Citation(.numbered(2), partial: "half of it")]),
        test("Unit", "host", target: "DeviceTests", [Citation(.numbered(3)), Citation(.numbered(1))]),
        test("Commands", "config", target: "PlatformTests", [Citation(.numbered(6), partial: "configuration only")]),
        test("EightInRealGuests", "eight", [Citation(.numbered(8))]),
        test("SoundInRealGuest", "plays", [Citation(.pending("SND"))]),
        test("AVPRunCommand", "notReal", [Citation(.numbered(5))]),
    ]

    static var matrix: ConformanceMatrix { ConformanceMatrix(requirements: requirements, tests: tests) }

    @Test("statuses come from the tests: real-guest full citation, partial marks, host-side only, n/a, configuration only, gap")
    func statuses() {
        let rows = Self.matrix.rows
        #expect(rows.map(\.status) == [
            .implemented,
            .partial("half; half of it"),
            .partial("no real-guest test; 1 host-side test"),
            .notApplicable("optional"),
            .partial("no real-guest test; 1 host-side test"),
            .partial("configuration only: no NIC here"),
            .gap("no test yet; expected configuration only: no USB here"),
            .implemented,
            .implemented,
        ])
        #expect(rows[0].provingTests.map(\.test.function) == ["full"])
        #expect(rows[1].realGuestTests.map(\.test.function) == ["full", "half"])
        #expect(rows[0].hostSideTests.map(\.test.function) == ["host"])
        #expect(Self.matrix.testsToRun.map(\.name) == ["EightInRealGuests/eight", "OneInRealGuest/full", "SoundInRealGuest/plays", "TwoGuests/half"])
    }

    @Test("--run: a failed or unreported proving test makes its requirement failed; passing ones keep it implemented")
    func outcomes() {
        let byName = Dictionary(uniqueKeysWithValues: Self.tests.map { ($0.test.function, $0.test) })
        let run = Self.matrix.applying([byName["full"]!: .passed, byName["half"]!: .failed, byName["eight"]!: .noResult,
                                        byName["plays"]!: .skipped])
        #expect(run.rows[0].status == .implemented)
        #expect(run.rows[1].status == .failed("TwoGuests/half failed"))
        #expect(run.rows[7].status == .failed("EightInRealGuests/eight no result"))
        #expect(run.rows[8].status == .failed("no proving test passed (SoundInRealGuest/plays skipped)"))
        #expect(run.rows[0].outcomes == [byName["full"]!: .passed])
    }

    @Test("a platform file marks what it does not configure, with what it would need")
    func platformScope() throws {
        let yaml = """
            name: car
            profile: development
            vms:
              - name: ivi
                devices:
                  - type: entropy
                  - type: block
                    image: /disk.img
            """
        let platform = try #require(PlatformLoader.load(yaml: yaml, path: "/tmp/p.yaml", checkingFiles: false).platform)
        let matrix = ConformanceMatrix(tests: [], platform: platform)
        func status(_ n: Int) -> RequirementStatus? { matrix.rows.first { $0.requirement.id == .numbered(n) }?.status }
        #expect(status(4) == .gap(nil))
        #expect(status(40) == .gap(nil))
        #expect(status(16) == .notConfigured("the platform has no vsock device"))
        #expect(status(36) == .notConfigured("the platform has no aarch64 VM and no scmi device"))
        #expect(status(35) == .notConfigured("the platform has no watchdog"))
        #expect(status(48) == .gap(nil))   // about every platform
        #expect(status(43) == .notApplicable(AVPSRequirement.numbered(43)!.reason!))
        #expect(matrix.platformName == "car")
    }

    @Test("markdown: one row per requirement, pipes escaped, evidence by function and suite, the summary after")
    func markdown() {
        let text = ConformanceFormat.markdown.render(Self.matrix)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "| Requirement | Title | Status | Evidence (test names, suite) |")
        #expect(lines.filter { $0.hasPrefix("| AVPS-v2.0-") }.count == Self.requirements.count)
        #expect(lines.contains("| AVPS-v2.0-1 | proven in a guest | **implemented** | `full` (OneInRealGuest)<br>+ 1 host-side test (Unit) |"))
        #expect(lines.contains("| AVPS-v2.0-3 | only host-side \\| piped | **partial**: no real-guest test; 1 host-side test | 1 host-side test (Unit) |"))
        #expect(lines.contains("| AVPS-v2.0-2 | only partly | **partial**: half; half of it | `full` (OneInRealGuest) (partial)<br>`half` (TwoGuests) (partial) |"))
        #expect(lines.last == "3 implemented, 4 partial, 1 not applicable, 1 gap (9 requirements).")
    }

    @Test("json: stable keys, nulls kept, one object per requirement with its tests")
    func json() throws {
        let data = Data(ConformanceFormat.json.render(Self.matrix).utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["specification", "platform", "summary", "requirements"])
        let requirements = try #require(object["requirements"] as? [[String: Any]])
        #expect(requirements.count == Self.requirements.count)
        #expect(Set(requirements[0].keys) == ["id", "number", "title", "chapter", "status", "reason", "tests"])
        #expect(requirements[0]["status"] as? String == "implemented")
        #expect(requirements[0]["reason"] is NSNull)
        let test = try #require((requirements[0]["tests"] as? [[String: Any]])?.first)
        #expect(Set(test.keys) == ["suite", "function", "name", "target", "file", "line", "realGuest", "partial", "result"])
        #expect(test["realGuest"] as? Bool == true)
        #expect(requirements[8]["id"] as? String == "AVPS-v2.0-PENDING-SND" && requirements[8]["number"] is NSNull)
    }

    @Test("text: columns line up; the reason or the first proving test and how many more")
    func text() {
        let lines = ConformanceFormat.text.render(Self.matrix).split(separator: "\n").map(String.init)
        #expect(lines.count == Self.requirements.count + 2)
        let statusColumn = lines[1].range(of: "STATUS")!.lowerBound.utf16Offset(in: lines[1])
        for line in lines.dropFirst(2) {
            #expect(line.dropFirst(statusColumn - 2).hasPrefix("  ") && !line.dropFirst(statusColumn).hasPrefix(" "))
        }
        #expect(lines[2].hasSuffix("OneInRealGuest/full (+1)"))
    }
}

extension AVPSRequirement {
    /// The n/a reason, for tests.
    var reason: String? {
        if case let .notApplicable(r) = expectation { return r }
        return nil
    }
}
