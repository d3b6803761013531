import Foundation
import Yams
import ServerCommands

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
                    error(keyMark, "unknown key \(UserText.quoted(key)) in \(name)",
                          fix: suggestion.map { "did you mean '\($0)'?" } ?? "known keys: " + properties.map(\.0).joined(separator: ", "))
                    continue
                }
                marks[childPath + "#key"] = keyMark
                check(value, against: childSchema, path: childPath)
            }
            for key in required where !seen.contains(key) {
                error(mark, "\(name) lacks the required key '\(key)'", fix: "add '\(key): ...'")
            }
        case let .array(_, items, count):
            guard let sequence = node.sequence else {
                error(mark, "\(name) must be \(schema.summary)", fix: "write each entry on its own line starting with '- '")
                return
            }
            if sequence.count < count.lowerBound {
                error(mark, "\(name) needs at least \(count.lowerBound) entr\(count.lowerBound == 1 ? "y" : "ies")")
            }
            if sequence.count > count.upperBound {
                // Pointing at the first entry too many; the entries are not checked, so a
                // file with a hundred thousand of them costs no more than one with the limit.
                let extra = sequence[count.upperBound].mark.map { ($0.line, $0.column) } ?? mark
                error(extra, "\(name) has \(sequence.count) entries; at most \(count.upperBound) are allowed",
                      fix: "remove entries from here on")
                return
            }
            for (i, item) in sequence.enumerated() { check(item, against: items, path: "\(path)[\(i)]") }
        case let .string(_, values, pattern):
            guard let scalar = node.scalar else { error(mark, "\(name) must be \(schema.summary)"); return }
            let text = scalar.string
            if let values, !values.contains(text) {
                let suggestion = Self.closest(to: text, in: values)
                error(mark, "\(name) is \(UserText.quoted(text)), which is not one of: \(values.joined(separator: ", "))",
                      fix: suggestion.map { "did you mean '\($0)'?" })
            }
            // The whole text must match, as in JSON Schema: ICU's '$' also matches before a final
            // newline, which would let a name like "ivi\n" through into paths and command lines.
            if let pattern, text.range(of: pattern, options: .regularExpression) != text.startIndex..<text.endIndex {
                error(mark, "\(name) \(UserText.quoted(text)) does not match \(pattern)",
                      fix: pattern == PlatformSchema.namePattern ? "use lower-case letters, digits and '-', starting with a letter" : nil)
            }
        case let .integer(_, range):
            // Quoted numbers are strings, as in JSON; the editors' schema says the same.
            guard let scalar = node.scalar, scalar.style == .plain || scalar.style == .any else {
                let quotedNumber = node.scalar.map { WholeNumber.read($0.string) != .notANumber } ?? false
                error(mark, "\(name) must be \(schema.summary)", fix: quotedNumber ? "write the number without quotes" : nil)
                return
            }
            switch WholeNumber.read(scalar.string) {
            case let .value(value) where range.contains(value):
                break
            case .value, .tooLarge:
                error(mark, "\(name) is \(UserText.shortened(scalar.string)); it must be \(schema.summary)")
            case .leadingZero:
                error(mark, "\(name) is \(UserText.shortened(scalar.string)); it must be \(schema.summary)",
                      fix: "write it without leading zeros (YAML 1.1 tools read 010 as octal 8)")
            case .notANumber:
                error(mark, "\(name) must be \(schema.summary)")
            }
        case .boolean:
            guard node.bool != nil else { error(mark, "\(name) must be \(schema.summary)"); return }
        case let .size(_, range):
            guard let scalar = node.scalar else { error(mark, "\(name) must be \(schema.summary)"); return }
            switch MemorySize.read(scalar.string) {
            case let .mebibytes(n) where range.contains(n):
                break
            case .mebibytes, .tooLarge:
                error(mark, "\(name) is \(UserText.shortened(scalar.string)); it must be \(schema.summary)")
            case .fractionOfMiB:
                error(mark, "\(name) is \(UserText.shortened(scalar.string)), which is not a whole number of MiB; it must be \(schema.summary)")
            case .notASize:
                error(mark, "\(name) must be \(schema.summary)",
                      fix: "write a number of MiB (512) or a number with a unit K, M, G or T (512M, 1.5G)")
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
