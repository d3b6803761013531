import Foundation
import Yams
import ServerCommands

/// Reads a platform file: the bytes (size, UTF-8, characters: `SourceText`), the
/// structure (nesting, aliases, duplicate keys: `EventScan`), YAML syntax, then the
/// schema (unknown keys, types, ranges, counts), then Yams decoding into
/// `PlatformFile`, then the platform rules (`PlatformRules`). Every problem is
/// reported with its line and column; nothing stops at the first.
public enum PlatformLoader {
    public struct Result: Sendable {
        public var platform: Platform?
        public var diagnostics: [Diagnostic]
        public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

        /// At most `PlatformLimits.diagnostics`, then one saying how many more there are.
        init(platform: Platform?, diagnostics: [Diagnostic]) {
            self.platform = platform
            let limit = PlatformLimits.diagnostics
            guard diagnostics.count > limit else {
                self.diagnostics = diagnostics
                return
            }
            let last = diagnostics[limit - 1]
            self.diagnostics = Array(diagnostics.prefix(limit)) + [
                Diagnostic(line: last.line, column: last.column,
                           "\(diagnostics.count - limit) more problem(s) not shown; the first \(limit) are above",
                           fix: "fix these and check again"),
            ]
        }
    }

    /// `checkingFiles: false` leaves out the checks that kernels, initrds and images exist
    /// (`avp describe` shows virtual hardware, which does not depend on them).
    public static func load(path: String, checkingFiles: Bool = true) -> Result {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        switch readBytes(url.path) {
        case let .failure(problem):
            return Result(platform: nil, diagnostics: [Diagnostic(line: 1, column: 1, problem.description, fix: problem.fix)])
        case let .success(bytes):
            return load(bytes: bytes, path: url.path, checkingFiles: checkingFiles)
        }
    }

    /// Checks `yaml` as if it were the file at `path` (relative paths in it start there).
    public static func load(yaml: String, path: String, checkingFiles: Bool = true) -> Result {
        load(bytes: Array(yaml.utf8), path: path, checkingFiles: checkingFiles)
    }

    public static func load(bytes: [UInt8], path: String, checkingFiles: Bool = true) -> Result {
        let yaml: String
        switch SourceText.decode(bytes) {
        case let .refused(diagnostic): return Result(platform: nil, diagnostics: [diagnostic])
        case let .text(text): yaml = text
        }
        let structural = EventScan.diagnostics(for: yaml)
        guard structural.isEmpty else { return Result(platform: nil, diagnostics: structural) }
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
            return Result(platform: nil, diagnostics: [Diagnostic(line: 1, column: 1, "the file cannot be parsed as YAML")])
        }

        var checker = SchemaChecker()
        checker.check(node, against: PlatformSchema.root)
        guard checker.diagnostics.isEmpty else { return Result(platform: nil, diagnostics: checker.diagnostics) }

        let file: PlatformFile
        do { file = try YAMLDecoder().decode(PlatformFile.self, from: node) } catch {
            // The schema admits only what decodes; this is a bug in AVP, reported as such.
            return Result(platform: nil, diagnostics: [Diagnostic(line: 1, column: 1, "cannot decode the checked file: \(UserText.shortened("\(error)", limit: 300))",
                                                                  fix: "report this as a bug in AVP")])
        }
        var rules = PlatformRules(file: file, path: path, marks: checker.marks, checkFiles: checkingFiles)
        let platform = rules.apply()
        return Result(platform: rules.diagnostics.contains { $0.severity == .error } ? nil : platform,
                      diagnostics: rules.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
    }

    // MARK: Reading

    /// Why a platform file could not be read at all.
    enum ReadProblem: Error, CustomStringConvertible {
        case cannotOpen(String, errno: Int32)
        case directory(String)
        case tooLarge(String)

        var description: String {
            switch self {
            case let .cannotOpen(path, code): return "cannot read \(UserText.shortened(path, limit: 200)): \(String(cString: strerror(code)))"
            case let .directory(path): return "\(UserText.shortened(path, limit: 200)) is a directory, not a platform file"
            case let .tooLarge(path): return "\(UserText.shortened(path, limit: 200)) is larger than \(PlatformLimits.fileBytes >> 20) MiB, the most a platform file may be"
            }
        }

        var fix: String {
            switch self {
            case .cannotOpen: return "check the path"
            case .directory: return "name the YAML file inside it"
            case .tooLarge: return "check that this is the platform file"
            }
        }
    }

    /// The file's bytes, at most one more than `PlatformLimits.fileBytes` read (so a huge
    /// file, or a device such as /dev/zero, costs no more than a file just too large).
    static func readBytes(_ path: String) -> Swift.Result<[UInt8], ReadProblem> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.cannotOpen(path, errno: errno)) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { return .failure(.directory(path)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= PlatformLimits.fileBytes {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { return .failure(.cannotOpen(path, errno: errno)) }
            if n == 0 { return .success(bytes) }
            bytes += chunk[0..<n]
        }
        return .failure(.tooLarge(path))
    }

    // MARK: YAML errors

    private static func syntaxDiagnostic(_ error: YamlError) -> Diagnostic {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            if problem.contains("nesting level") {   // libyaml's own limit; EventScan's is lower
                return Diagnostic(line: mark.line, column: mark.column,
                                  "nesting is too deep here: a platform file may nest at most \(PlatformLimits.nestingDepth) levels of lists and mappings",
                                  fix: "a platform file needs only a few levels (vms, a VM, its devices, a device); check for unclosed '[' or '{'")
            }
            // libyaml's messages are fixed texts; the file's own text is never part of them.
            let what = [context?.text, problem].compactMap { $0 }.joined(separator: " ")
            return Diagnostic(line: mark.line, column: mark.column, "YAML syntax: \(UserText.shortened(what, limit: 200))",
                              fix: "check indentation (spaces only) and that every 'key: value' has a space after ':'")
        case .reader:
            // SourceText has refused what libyaml's reader refuses; this is the safety net.
            return Diagnostic(line: 1, column: 1, "the file is not text YAML can read", fix: "save it as UTF-8 text")
        case let .duplicatedKeysInMapping(duplicates, context):
            // Keys that are not plain text (EventScan reports those at their second occurrence).
            return Diagnostic(line: context.mark.line, column: context.mark.column,
                              "a key appears more than once in this mapping: \(duplicates.map { UserText.quoted($0) }.joined(separator: ", "))",
                              fix: "keep one of them")
        case .memory:
            return Diagnostic(line: 1, column: 1, "out of memory while parsing the file")
        default:
            return Diagnostic(line: 1, column: 1, "the file cannot be parsed as YAML")
        }
    }
}
