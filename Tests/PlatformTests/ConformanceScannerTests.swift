import Foundation
@testable import Platform
import Testing

/// `avp conformance` reads its evidence from test sources: the scanner must find exactly the
/// `@Test`/`@Suite` declarations real Swift has, whatever strings and comments surround them.
@Suite struct ConformanceScannerTests {
    /// Attributes over several lines, escaped quotes, raw strings, extensions, nested types, and
    /// declaration-like text inside strings and comments that must not count.
    static let snippet = #"""
        import Testing

        @Suite(.serialized) struct WidgetInRealGuest {
            @Test("AVPS-v2.0-40, AVPS-v2.0-41: reads \"1 MiB\" of entropy",
                  arguments: ["q35", "microvm"])
            func reads(machine: String) throws {
                let script = """
                    @Test("AVPS-v2.0-99: not a test, a string") func fake() {}
                    """
                _ = "\(script.count) { unbalanced \(["}"].count)"
            }

            // @Test("AVPS-v2.0-98: commented out") func commented() {}
            /* @Test("AVPS-v2.0-97") /* nested */ func blocked() {} */
            @Test func unnamed() {}
        }

        extension WidgetInRealGuest {
            @Test(#"AVPS-v2.0-16: raw "quoted" name"#, .timeLimit(.minutes(1))) func raw() {}
        }

        @Suite("Gadget (AVPS-v2.0-37/38)") struct Gadget {
            struct Inner {
                @available(macOS 15, *)
                @Test("AVPS-v2.0-35 (partial: i6300esb, not SBSA gwdt): x") func nested() {}
            }
            class func notAType() {}
            @Test("AVPS-v2.0-99: an id the table lacks") func unknown() {}
        }
        """#

    @Test("the scanner finds each @Test and @Suite with its display name, function, enclosing types and line")
    func declarations() {
        let found = TestDeclarationScanner.declarations(in: Self.snippet)
        let tests = found.filter { $0.kind == .test }
        #expect(tests.map(\.function) == ["reads", "unnamed", "raw", "nested", "unknown"])
        #expect(tests.map(\.typePath) == [["WidgetInRealGuest"], ["WidgetInRealGuest"], ["WidgetInRealGuest"], ["Gadget", "Inner"], ["Gadget"]])
        #expect(tests.map(\.displayName) == [#"AVPS-v2.0-40, AVPS-v2.0-41: reads "1 MiB" of entropy"#, nil,
                                             #"AVPS-v2.0-16: raw "quoted" name"#,
                                             "AVPS-v2.0-35 (partial: i6300esb, not SBSA gwdt): x", "AVPS-v2.0-99: an id the table lacks"])
        #expect(tests.map(\.line) == [4, 15, 19, 25, 28])
        let suites = found.filter { $0.kind == .suite }
        #expect(suites.map(\.typePath) == [["WidgetInRealGuest"], ["Gadget"]])
        #expect(suites.map(\.displayName) == [nil, "Gadget (AVPS-v2.0-37/38)"])
    }

    @Test("unterminated strings and comments, and stray braces, end the scan without a trap")
    func malformedSources() {
        for source in ["@Test(\"AVPS-v2.0-1", "/* @Test(\"x\") func a() {}", "}}}} @Test(\"a\") func b() {}", "@Test(", "\"\"\"", "#\"", "@",
                       "struct { @Test(\"x\") func c() {} }", "\"\\u{110000}\\u{zz\""] {
            _ = TestDeclarationScanner.declarations(in: source)
        }
        #expect(TestDeclarationScanner.declarations(in: "}}}} @Test(\"a\") func b() {}").map(\.function) == ["b"])
    }

    @Test("citation forms in use: comma lists, slash groups, remarks, partial marks, suite parentheses, the pending id")
    func citations() {
        func ids(_ name: String) -> [String] { Citation.parse(name).citations.map { "\($0.id)" + ($0.partial.map { " partial: \($0)" } ?? "") } }
        #expect(ids("AVPS-v2.0-40, AVPS-v2.0-41: reads") == ["AVPS-v2.0-40", "AVPS-v2.0-41"])
        #expect(ids("AVPS-v2.0-17/18/19/20/21/22: binds") == (17...22).map { "AVPS-v2.0-\($0)" })
        #expect(ids("AVPS-v2.0-11/14/15/16: networks") == ["AVPS-v2.0-11", "AVPS-v2.0-14", "AVPS-v2.0-15", "AVPS-v2.0-16"])
        #expect(ids("AVPS-v2.0-35 (partial: i6300esb, not SBSA gwdt): a guest") == ["AVPS-v2.0-35 partial: i6300esb, not SBSA gwdt"])
        #expect(ids("AVPS-v2.0-1, AVPS-v2.0-2 (EBBR), AVPS-v2.0-3: boots") == ["AVPS-v2.0-1", "AVPS-v2.0-2", "AVPS-v2.0-3"])
        #expect(ids("AVPS-v2.0-9 (partial: configuration only): host-device") == ["AVPS-v2.0-9 partial: configuration only"])
        #expect(ids("AVPS-v2.0-17/20 (Partial) EDID") == ["AVPS-v2.0-17 partial: partial", "AVPS-v2.0-20 partial: partial"])
        #expect(ids("GPIO host side (AVPS-v2.0-37/38)") == ["AVPS-v2.0-37", "AVPS-v2.0-38"])
        #expect(ids("AVPS-v2.0-7 and WRITE_ZEROES: blkdiscard") == ["AVPS-v2.0-7"])
        #expect(ids("AVPS-v2.0-PENDING-SND (AVPS §2.9): aplay") == ["AVPS-v2.0-PENDING-SND"])
        #expect(ids("AVPS §2.9: no id") == [])
        #expect(Citation.parse("AVPS-v2.0-x: y").malformed == ["AVPS-v2.0-x"])
        #expect(Citation.parse("AVPS-v2.0-0 and AVPS-v2.0-123456789012345678901234567890").malformed
                == ["AVPS-v2.0-0", "AVPS-v2.0-123456789012345678901234567890"])
        #expect(Citation.parse("AVPS-v2.0-PENDING-: y").malformed == ["AVPS-v2.0-PENDING-"])
        #expect(AVPSRequirementID("AVPS-v2.0-PENDING-SND") == .pending("SND"))
        #expect(AVPSRequirementID("AVPS-v2.0-07") == nil)
    }

    @Test("a scan gives each test its own and its suites' citations, marks real-guest ones, and reports unknown ids with their line")
    func scan() {
        let scan = TestTreeScan.scan(sources: [("Tests/GuestTests/W.swift", "GuestTests", Self.snippet)], requirements: AVPSRequirement.all)
        #expect(scan.tests.map(\.test.name) == ["WidgetInRealGuest/reads", "WidgetInRealGuest/raw", "Gadget/Inner/nested", "Gadget/unknown"])
        #expect(scan.tests.map(\.isRealGuest) == [true, true, false, false])
        let nested = scan.tests[2]
        #expect(nested.citations == [Citation(.numbered(35), partial: "i6300esb, not SBSA gwdt"), Citation(.numbered(37)), Citation(.numbered(38))])
        #expect(scan.problems == [TestTreeScan.Problem(kind: .unknownID(.numbered(99)), file: "Tests/GuestTests/W.swift", line: 28)])
        #expect(scan.tests[0].test.filterPattern == #"GuestTests\.WidgetInRealGuest/reads\("#)
        #expect(scan.tests[2].test.filterPattern == #"GuestTests\.Gadget/Inner/nested\("#)
    }

    @Test("real-guest suites: GuestTests suites named …InRealGuest(s) or …Guest(s), nothing else")
    func realGuestRule() {
        func real(_ target: String, _ suite: String?) -> Bool {
            RealGuestRule.isRealGuest(TestReference(target: target, suitePath: suite.map { [$0] } ?? [], function: "f", displayName: nil, file: "", line: 1))
        }
        for suite in ["EntropyInRealGuest", "NetInRealGuests", "ArmGuests", "DebianArmGuest", "UefiPlatformGuest"] { #expect(real("GuestTests", suite)) }
        for suite in ["AVPRunCommand", "FsSandboxFromTheHost", "GuestHarnessTests"] { #expect(!real("GuestTests", suite)) }
        #expect(!real("DeviceTests", "EntropyInRealGuest"))
        #expect(!real("GuestTests", nil))
    }

    @Test("swift-testing's lines: started, passed, failed with cases, issues, skipped; ANSI colours and other lines ignored")
    func eventLines() {
        let named = TestReference(target: "GuestTests", suitePath: ["A"], function: "reads", displayName: "AVPS-v2.0-40: reads", file: "", line: 1)
        let longer = TestReference(target: "GuestTests", suitePath: ["A"], function: "more", displayName: "AVPS-v2.0-40: reads more", file: "", line: 2)
        let plain = TestReference(target: "GuestTests", suitePath: ["B"], function: "boots", displayName: nil, file: "", line: 3)
        let tests = [named, longer, plain]
        #expect(TestEventLine.parse("◇ Test \"AVPS-v2.0-40: reads\" started.", tests: tests) == .started(named))
        #expect(TestEventLine.parse("\u{1B}[1;32m✔\u{1B}[0m Test \"AVPS-v2.0-40: reads more\" passed after 3.1 seconds.", tests: tests)
                == .finished(longer, .passed))
        #expect(TestEventLine.parse("✘ Test \"AVPS-v2.0-40: reads\" with 2 test cases failed after 9.0 seconds with 1 issue.", tests: tests)
                == .finished(named, .failed))
        #expect(TestEventLine.parse("✔ Test boots(machine:) with 2 test cases passed after 1.0 seconds.", tests: tests) == .finished(plain, .passed))
        #expect(TestEventLine.parse("↪ Test boots() skipped.", tests: tests) == .finished(plain, .skipped))
        #expect(TestEventLine.parse("✘ Test \"AVPS-v2.0-40: reads\" recorded an issue at A.swift:3:5: Expectation failed", tests: tests)
                == .issue(named, "Test \"AVPS-v2.0-40: reads\" recorded an issue at A.swift:3:5: Expectation failed"))
        #expect(TestEventLine.parse("✔ Suite A passed after 2.0 seconds.", tests: tests) == nil)
        #expect(TestEventLine.parse("✔ Test \"something else\" passed after 2.0 seconds.", tests: tests) == nil)
        #expect(TestEventLine.parse("[3/4] Compiling Test \"AVPS-v2.0-40: reads\" passed", tests: tests) == nil)
    }

    @Test("--run's swift test command: one filter alternating every test, the build directory passed on, quoted for script(1)")
    func runCommand() {
        let a = TestReference(target: "GuestTests", suitePath: ["A"], function: "x", displayName: nil, file: "", line: 1)
        let b = TestReference(target: "GuestTests", suitePath: ["B"], function: "y", displayName: nil, file: "", line: 1)
        let run = GuestTestRun(packageDirectory: "/p", scratchPath: "/p/.build-x", tests: [a, b], logPath: "/tmp/l")
        #expect(run.arguments == ["test", "--skip-build", "--scratch-path", "/p/.build-x", "--filter", #"(GuestTests\.A/x\(|GuestTests\.B/y\()"#])
        #expect(GuestTestRun(packageDirectory: "/p", scratchPath: nil, tests: [a], logPath: "/tmp/l").arguments
                == ["test", "--skip-build", "--filter", #"(GuestTests\.A/x\()"#])
        // Under script(1), one shell word per argument, quotes and all.
        #expect(run.launcherArguments(script: "/usr/bin/script") == [
            "/usr/bin/script", "-qfec",
            #"'swift' 'test' '--skip-build' '--scratch-path' '/p/.build-x' '--filter' '(GuestTests\.A/x\(|GuestTests\.B/y\()'"#,
            "/dev/null",
        ])
        #expect(run.launcherArguments(script: nil) == ["swift"] + run.arguments)
        #expect(GuestTestRun.shellQuoted("it's") == #"'it'\''s'"#)
    }
}
