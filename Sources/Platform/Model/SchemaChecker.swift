import Foundation
import Yams

/// Walks a composed YAML tree against `PlatformSchema`, collecting every unknown
/// key, wrong type and missing field with its line and column, and remembering
/// where each value sits (`marks`) for the semantic checks that follow.
struct SchemaChecker {
    private(set) var diagnostics: [Diagnostic] = []
    /// Path ("vms[0].devices[1].server") → position of that value in the file.
    private(set) var marks: [String: (line: Int, column: Int)] = [:]

    mutating func check(_ node: Node, against schema: SchemaValue, path: String = "") {
        let mark = node.mark.map { ($0.line, $0.column) } ?? (1, 1)
        marks[path] = mark
        let name = path.isEmpty ? "the platform file" : "'\(path)'"
        switch schema {
        case let .object(_, properties, required):
            guard let mapping = node.mapping else {
                error(mark, "\(name) must be \(schema.summary)")
                return
            }
            let known = Dictionary(properties, uniquingKeysWith: { a, _ in a })
            var seen: Set<String> = []
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else {
                    error(keyNode.mark.map { ($0.line, $0.column) } ?? mark, "keys must be plain names")
                    continue
                }
                let keyMark = keyNode.mark.map { ($0.line, $0.column) } ?? mark
                seen.insert(key)
                let childPath = path.isEmpty ? key : path + "." + key
                guard let childSchema = known[key] else {
                    let suggestion = Self.closest(to: key, in: properties.map(\.0))
                    error(keyMark, "unknown key '\(key)' in \(name)",
                          fix: suggestion.map { "did you mean '\($0)'?" } ?? "known keys: " + properties.map(\.0).joined(separator: ", "))
                    continue
                }
                marks[childPath + "#key"] = keyMark
                check(value, against: childSchema, path: childPath)
            }
            for key in required where !seen.contains(key) {
                error(mark, "\(name) lacks the required key '\(key)'", fix: "add '\(key): ...'")
            }
        case let .array(_, items, minItems):
            guard let sequence = node.sequence else {
                error(mark, "\(name) must be \(schema.summary)", fix: "write each entry on its own line starting with '- '")
                return
            }
            if sequence.count < minItems { error(mark, "\(name) needs at least \(minItems) entr\(minItems == 1 ? "y" : "ies")") }
            for (i, item) in sequence.enumerated() { check(item, against: items, path: "\(path)[\(i)]") }
        case let .string(_, values, pattern):
            guard let scalar = node.scalar else { error(mark, "\(name) must be \(schema.summary)"); return }
            let text = scalar.string
            if let values, !values.contains(text) {
                let suggestion = Self.closest(to: text, in: values)
                error(mark, "\(name) is '\(text)', which is not one of: \(values.joined(separator: ", "))",
                      fix: suggestion.map { "did you mean '\($0)'?" })
            }
            if let pattern, text.range(of: pattern, options: .regularExpression) == nil {
                error(mark, "\(name) '\(text)' does not match \(pattern)",
                      fix: pattern == PlatformSchema.namePattern ? "use lower-case letters, digits and '-', starting with a letter" : nil)
            }
        case let .integer(_, minimum, maximum):
            guard let value = node.int else { error(mark, "\(name) must be \(schema.summary)"); return }
            if value < minimum || value > maximum { error(mark, "\(name) is \(value); it must be \(schema.summary)") }
        case .boolean:
            guard node.bool != nil else { error(mark, "\(name) must be \(schema.summary)"); return }
        case .size:
            guard let scalar = node.scalar, node.int != nil || MemorySize(parsing: scalar.string) != nil else {
                error(mark, "\(name) must be \(schema.summary)")
                return
            }
        }
    }

    private mutating func error(_ mark: (Int, Int), _ message: String, fix: String? = nil) {
        diagnostics.append(Diagnostic(.error, line: mark.0, column: mark.1, message, fix: fix))
    }

    /// The candidate within edit distance 2 of `word`, if any.
    static func closest(to word: String, in candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for i in 1...max(1, a.count) where !a.isEmpty {
                var previous = row[0]
                row[0] = i
                for j in 1...max(1, b.count) where !b.isEmpty {
                    let current = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                    previous = current
                }
            }
            return row[b.count]
        }
        let scored = candidates.map { ($0, distance(Array(word.lowercased()), Array($0.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < word.count else { return nil }
        return best.0
    }
}
