import Foundation

/// One line of swift-testing's console output about a test, as `--run` follows it:
/// `◇ Test "name" started.`, `✔ Test "name" passed after 1.2 seconds.`,
/// `✘ Test "name" with 2 test cases failed after 3.4 seconds with 1 issue.`,
/// `✘ Test "name" recorded an issue at File.swift:1:2: …`, `↪ Test "name" skipped.`
/// Read by its words, not its marks (which differ by platform), and with ANSI colours removed.
public enum TestEventLine: Equatable, Sendable {
    case started(TestReference)
    case finished(TestReference, TestOutcome)
    /// An issue a test recorded; the line without its mark.
    case issue(TestReference, String)

    /// The event `line` reports about one of `tests`, or nil for any other line (suites,
    /// XCTest's, build output). A test is recognised by its display name in quotes, or by its
    /// function name when it has none.
    public static func parse(_ line: String, tests: [TestReference]) -> TestEventLine? {
        let plain = withoutEscapes(line)
        guard let testWord = plain.range(of: "Test ") else { return nil }
        // Only the mark and a space may come before "Test ".
        guard plain[..<testWord.lowerBound].count <= 3 else { return nil }
        let rest = plain[testWord.upperBound...]
        // The longest name that matches wins (one display name may start another).
        let candidates = tests.compactMap { test -> (TestReference, Substring)? in
            let shown = test.displayName.map { "\"\($0)\"" } ?? test.function + "("
            guard rest.hasPrefix(shown) else { return nil }
            var after = rest.dropFirst(shown.count)
            if test.displayName == nil { after = after.drop { $0 != ")" }.dropFirst() }
            return (test, after)
        }
        guard let best = candidates.max(by: { $0.1.count > $1.1.count }) else { return nil }
        let (test, after) = best
        if after.hasPrefix(" started") { return .started(test) }
        if after.hasPrefix(" recorded an issue") { return .issue(test, String(plain[testWord.lowerBound...])) }
        if after.hasPrefix(" skipped") { return .finished(test, .skipped) }
        // " passed after …", " failed after …", " with 2 test cases passed after …"
        let words = after.split(separator: " ").prefix(6)
        if words.contains("passed") { return .finished(test, .passed) }
        if words.contains("failed") { return .finished(test, .failed) }
        return nil
    }

    /// `line` without ANSI escape sequences (ESC [ … letter).
    static func withoutEscapes(_ line: String) -> String {
        var out = ""
        var inEscape = false, sawBracket = false
        for scalar in line.unicodeScalars {
            if inEscape {
                if !sawBracket { sawBracket = scalar == "["; if !sawBracket { inEscape = false }; continue }
                if (scalar.value >= 0x40 && scalar.value <= 0x7E) { inEscape = false }
                continue
            }
            if scalar == "\u{1B}" { inEscape = true; sawBracket = false; continue }
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}

