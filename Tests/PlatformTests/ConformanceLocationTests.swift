import Foundation
import Platform
import Testing

/// Where `avp conformance` finds the test sources and the build `--run` uses.
@Suite struct ConformanceLocationTests {
    let package: URL

    init() throws {
        package = FileManager.default.temporaryDirectory.appendingPathComponent("avp-location-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: package.appendingPathComponent("Tests/GuestTests"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: package.appendingPathComponent(".build-x/x86_64-unknown-linux-gnu/debug"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: package.appendingPathComponent("Package.swift").path, contents: Data())
    }

    @Test("Tests in the current directory first, then the package above the executable, with its build directory")
    func finds() throws {
        defer { try? FileManager.default.removeItem(at: package) }
        let avp = package.appendingPathComponent(".build-x/x86_64-unknown-linux-gnu/debug/avp").path
        let fromBuild = try PackageLocation.find(explicit: nil, currentDirectory: "/", executables: [avp, avp])
        #expect(fromBuild == PackageLocation(testsDirectory: package.appendingPathComponent("Tests").path, packageDirectory: package.path,
                                             scratchPath: package.appendingPathComponent(".build-x").path))
        let here = try PackageLocation.find(explicit: nil, currentDirectory: package.path, executables: ["/usr/bin/avp"])
        #expect(here.testsDirectory == package.appendingPathComponent("Tests").path && here.scratchPath == nil)
        let relative = try PackageLocation.find(explicit: "Tests", currentDirectory: package.path, executables: [avp])
        #expect(relative == fromBuild)
    }

    @Test("no Tests folder anywhere, or a --tests that is none, is an error naming where it looked")
    func missing() throws {
        defer { try? FileManager.default.removeItem(at: package) }
        #expect(throws: ConformanceError.noTestsDirectory(looked: ["/nonexistent/Tests"])) {
            try PackageLocation.find(explicit: "/nonexistent/Tests", currentDirectory: "/", executables: [])
        }
        #expect(throws: ConformanceError.noTestsDirectory(looked: ["/nonexistent/Tests", "the package above /usr/bin"])) {
            try PackageLocation.find(explicit: nil, currentDirectory: "/nonexistent", executables: ["/usr/bin/avp"])
        }
    }
}
