import Foundation
@testable import Platform
import Testing

/// Programs for a guest layer: by name on PATH, or by path.
@Suite struct HostToolsLookup {
    @Test("A program named by path lands in /usr/local/bin under its file name; a missing path is an error naming it")
    func programByPath() throws {
        let files = try HostTools.files(for: ["/bin/true"])
        #expect(files["usr/local/bin/true"] == [UInt8](try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))))
        #expect(files.keys.contains { $0.hasPrefix("lib") }, "its libraries come along: \(files.keys.sorted())")
        #expect(throws: PlatformError.self) { try HostTools.files(for: ["/nonexistent/afalg-cipher"]) }
        #expect(try HostTools.files(for: ["true"])["usr/local/bin/true"] != nil)
    }
}
