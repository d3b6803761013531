import Devices
import Foundation
import Yams

/// Reads a platform file: YAML syntax, then the schema (unknown keys, types), then
/// Yams decoding into `PlatformFile`, then the platform rules (`PlatformRules`).
/// Every problem is reported with its line and column; nothing stops at the first.
public enum PlatformLoader {
    public struct Result: Sendable {
        public var platform: Platform?
        public var diagnostics: [Diagnostic]
        public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    }

    public static func load(path: String) -> Result {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        guard let data = FileManager.default.contents(atPath: url.path) else {
            return Result(platform: nil, diagnostics: [Diagnostic(line: 1, column: 1, "cannot read \(path)",
                                                                  fix: "check the path")])
        }
        return load(yaml: String(decoding: data, as: UTF8.self), path: url.path)
    }

    public static func load(yaml: String, path: String) -> Result {
        let node: Node
        do {
            guard let composed = try Yams.compose(yaml: yaml) else {
                return Result(platform: nil, diagnostics: [Diagnostic(line: 1, column: 1, "the file is empty",
                                                                      fix: "start from examples/two-vms.yaml")])
            }
            node = composed
        } catch let error as YamlError {
            return Result(platform: nil, diagnostics: [syntaxDiagnostic(error)])
        } catch {
            return Result(platform: nil, diagnostics: [Diagnostic(line: 1, column: 1, "\(error)")])
        }

        var checker = SchemaChecker()
        checker.check(node, against: PlatformSchema.root)
        guard checker.diagnostics.isEmpty else { return Result(platform: nil, diagnostics: checker.diagnostics) }

        let file: PlatformFile
        do { file = try YAMLDecoder().decode(PlatformFile.self, from: node) } catch {
            return Result(platform: nil, diagnostics: [Diagnostic(line: 1, column: 1, "cannot decode: \(error)")])
        }
        var rules = PlatformRules(file: file, path: path, marks: checker.marks)
        let platform = rules.apply()
        return Result(platform: rules.diagnostics.contains { $0.severity == .error } ? nil : platform,
                      diagnostics: rules.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
    }

    private static func syntaxDiagnostic(_ error: YamlError) -> Diagnostic {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let what = [context?.text, problem].compactMap { $0 }.joined(separator: " ")
            return Diagnostic(line: mark.line, column: mark.column, "YAML syntax: \(what)",
                              fix: "check indentation (spaces only) and that every 'key: value' has a space after ':'")
        case let .duplicatedKeysInMapping(duplicates, context):
            return Diagnostic(line: context.mark.line, column: context.mark.column,
                              "duplicate key(s): \(duplicates.joined(separator: ", "))", fix: "keep one of them")
        default:
            return Diagnostic(line: 1, column: 1, "YAML: \(error)")
        }
    }
}
