import Foundation

/// The tests of a package's Tests folder that cite AVPS requirements, read from their sources:
/// the single source of the conformance matrix's evidence.
public struct TestTreeScan: Sendable {
    /// A citation the table cannot place: an id it does not have, or text it cannot read as one.
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        public enum Kind: Hashable, Sendable {
            /// A well-formed id that is no requirement of the table.
            case unknownID(AVPSRequirementID)
            /// `AVPS-v2.0-` followed by no number or pending name.
            case malformed(String)
        }
        public var kind: Kind
        /// The file, relative to the package, and the line of the declaration naming it.
        public var file: String
        public var line: Int

        public var description: String {
            switch kind {
            case let .unknownID(id): "\(file):\(line): cites \(id), which AVPS v2.0 does not have"
            case let .malformed(text): "\(file):\(line): '\(text)' is no requirement id (AVPS-v2.0-N or AVPS-v2.0-PENDING-NAME)"
            }
        }
    }

    /// Every test citing at least one requirement, in file and line order.
    public var tests: [CitingTest]
    public var problems: [Problem]

    /// Source files larger than this are skipped (no test file comes near it).
    public static let maximumFileSize = 4 << 20

    public init(tests: [CitingTest], problems: [Problem]) {
        self.tests = tests
        self.problems = problems
    }

    /// Scans every `.swift` file under `directory` (a package's Tests folder); the first folder
    /// level is the test target. Paths in the result start with the folder's own name.
    public static func scan(directory: String, requirements: [AVPSRequirement] = AVPSRequirement.all) throws(ConformanceError) -> TestTreeScan {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .noTestsDirectory(looked: [directory])
        }
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        let files: [String]
        do { files = try FileManager.default.subpathsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".swift") }.sorted() } catch {
            throw .cannotRead(root.path, "\(error)")
        }
        var sources: [(path: String, target: String, text: String)] = []
        for relative in files {
            let full = root.appendingPathComponent(relative).path
            guard let size = (try? FileManager.default.attributesOfItem(atPath: full))?[.size] as? Int,
                  size <= maximumFileSize, let data = FileManager.default.contents(atPath: full) else { continue }
            let target = relative.split(separator: "/").first.map(String.init) ?? ""
            sources.append((path: root.lastPathComponent + "/" + relative, target: target, text: String(decoding: data, as: UTF8.self)))
        }
        return scan(sources: sources, requirements: requirements)
    }

    /// Scans sources already read: (path for reports, test target, text).
    static func scan(sources: [(path: String, target: String, text: String)], requirements: [AVPSRequirement]) -> TestTreeScan {
        let known = Set(requirements.map(\.id))
        var declarations: [(path: String, target: String, declaration: TestDeclaration)] = []
        for source in sources {
            declarations += TestDeclarationScanner.declarations(in: source.text).map { (path: source.path, target: source.target, declaration: $0) }
        }
        // A suite's name cites for every test in it, wherever the suite type is extended.
        var suiteCitations: [String: [Citation]] = [:]
        var problems: [Problem] = []
        func read(_ name: String?, at path: String, line: Int) -> [Citation] {
            guard let name else { return [] }
            let (citations, malformed) = Citation.parse(name)
            problems += malformed.map { Problem(kind: .malformed($0), file: path, line: line) }
            problems += citations.filter { !known.contains($0.id) }.map { Problem(kind: .unknownID($0.id), file: path, line: line) }
            return citations.filter { known.contains($0.id) }
        }
        for (path, target, declaration) in declarations where declaration.kind == .suite {
            let key = ([target] + declaration.typePath).joined(separator: ".")
            suiteCitations[key, default: []] += read(declaration.displayName, at: path, line: declaration.line)
        }
        var tests: [CitingTest] = []
        for (path, target, declaration) in declarations where declaration.kind == .test {
            guard let function = declaration.function else { continue }
            var citations = read(declaration.displayName, at: path, line: declaration.line)
            for depth in declaration.typePath.indices {
                citations += suiteCitations[([target] + declaration.typePath[...depth]).joined(separator: "."), default: []]
            }
            guard !citations.isEmpty else { continue }
            var unique: [Citation] = []
            for c in citations where !unique.contains(c) { unique.append(c) }
            let reference = TestReference(target: target, suitePath: declaration.typePath, function: function,
                                          displayName: declaration.displayName, file: path, line: declaration.line)
            tests.append(CitingTest(test: reference, citations: unique))
        }
        return TestTreeScan(tests: tests, problems: problems)
    }
}
