import Foundation

/// The matrix as JSON with stable keys (sorted, documented in docs/conformance.md):
/// `{"specification", "platform", "summary", "requirements": [{"id", "number", "title",
/// "chapter", "status", "reason", "tests": [{"suite", "function", "name", "target", "file",
/// "line", "realGuest", "partial", "result"}]}]}`; absent values are null.
enum ConformanceJSON {
    struct Document: Encodable {
        var specification = "AVPS v2.0"
        var platform: String?
        var summary: [String: Int]
        var requirements: [Requirement]

        enum CodingKeys: String, CodingKey { case specification, platform, summary, requirements }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(specification, forKey: .specification)
            try c.encode(platform, forKey: .platform)
            try c.encode(summary, forKey: .summary)
            try c.encode(requirements, forKey: .requirements)
        }
    }

    struct Requirement: Encodable {
        var id: String
        var number: Int?
        var title: String
        var chapter: String
        var status: String
        var reason: String?
        var tests: [Test]

        enum CodingKeys: String, CodingKey { case id, number, title, chapter, status, reason, tests }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(number, forKey: .number)
            try c.encode(title, forKey: .title)
            try c.encode(chapter, forKey: .chapter)
            try c.encode(status, forKey: .status)
            try c.encode(reason, forKey: .reason)
            try c.encode(tests, forKey: .tests)
        }
    }

    struct Test: Encodable {
        var suite: String?
        var function: String
        var name: String?
        var target: String
        var file: String
        var line: Int
        var realGuest: Bool
        var partial: String?
        var result: String?

        enum CodingKeys: String, CodingKey { case suite, function, name, target, file, line, realGuest, partial, result }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(suite, forKey: .suite)
            try c.encode(function, forKey: .function)
            try c.encode(name, forKey: .name)
            try c.encode(target, forKey: .target)
            try c.encode(file, forKey: .file)
            try c.encode(line, forKey: .line)
            try c.encode(realGuest, forKey: .realGuest)
            try c.encode(partial, forKey: .partial)
            try c.encode(result, forKey: .result)
        }
    }

    static func document(_ matrix: ConformanceMatrix) -> Document {
        Document(platform: matrix.platformName, summary: matrix.counts, requirements: matrix.rows.map { row in
            let tests = (row.realGuestTests + row.hostSideTests).map { test in
                Test(suite: test.test.suite, function: test.test.function, name: test.test.displayName, target: test.test.target,
                     file: test.test.file, line: test.test.line, realGuest: test.isRealGuest,
                     partial: test.citation(of: row.requirement.id)?.partial, result: row.outcomes[test.test]?.rawValue)
            }
            return Requirement(id: row.requirement.id.description, number: row.requirement.id.number, title: row.requirement.title,
                               chapter: row.requirement.chapter, status: row.status.label, reason: row.status.reason, tests: tests)
        })
    }

    static func render(_ matrix: ConformanceMatrix) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, numbers and arrays cannot fail.
        guard let data = try? encoder.encode(document(matrix)) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
