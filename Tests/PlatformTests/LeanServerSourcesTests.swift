import Foundation
import Testing

/// `avp-serve` links the targets below ServerCommands and nothing else (Package.swift), so that an
/// idle server holds little (issue 17). SwiftPM lets any target import Foundation without saying
/// so; this keeps them to FoundationEssentials (`#if canImport(FoundationEssentials)` … `#else`
/// `import Foundation`, for platforms without it).
@Suite struct LeanServerSources {
    static let targets = ["SystemCalls", "GuestMemory", "Virtio", "VhostUser", "Devices", "ServerCommands", "avp-serve"]
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// `file:line` of each unconditional `import Foundation` (or of Yams, FoundationNetworking…) in `text`.
    static func fullFoundationImports(_ text: String, file: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var found: [String] = []
        for (index, line) in lines.enumerated() {
            let words = line.split(separator: " ")
            guard let module = words.last, words.contains("import"),
                  ["Foundation", "FoundationNetworking", "FoundationXML", "Yams", "Platform"].contains(String(module)) else { continue }
            let guarded = module == "Foundation" && index > 0 && lines[index - 1] == "#else"
            if !guarded { found.append("\(file):\(index + 1): \(line)") }
        }
        return found
    }

    @Test func theServerTargetsImportNeitherFoundationNorThePlatform() throws {
        var found: [String] = []
        var files = 0
        for target in Self.targets {
            let directory = Self.sources.appendingPathComponent(target)
            let enumerator = try #require(FileManager.default.enumerator(atPath: directory.path))
            for case let path as String in enumerator where path.hasSuffix(".swift") {
                files += 1
                let text = try String(contentsOf: directory.appendingPathComponent(path), encoding: .utf8)
                found += Self.fullFoundationImports(text, file: "\(target)/\(path)")
            }
        }
        #expect(files > 200, "the scan found the sources")
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    @Test func theScanFindsAnUnguardedImportAndPassesAGuardedOne() {
        #expect(Self.fullFoundationImports("import Glibc\nimport Foundation\n", file: "a") == ["a:2: import Foundation"])
        #expect(Self.fullFoundationImports("@preconcurrency import Yams", file: "b").count == 1)
        #expect(Self.fullFoundationImports("#if canImport(FoundationEssentials)\nimport FoundationEssentials\n#else\nimport Foundation\n#endif", file: "c").isEmpty)
    }
}
