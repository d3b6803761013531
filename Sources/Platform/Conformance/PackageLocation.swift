import Foundation

/// Where `avp conformance` finds the test sources it reads and the build `--run` uses.
public struct PackageLocation: Equatable, Sendable {
    /// The Tests folder whose sources cite requirements.
    public var testsDirectory: String
    /// The package holding it: where `swift test` runs.
    public var packageDirectory: String
    /// The SwiftPM build directory this avp came from (`.build`, `.build-NAME`), if it is the package's.
    public var scratchPath: String?

    public init(testsDirectory: String, packageDirectory: String, scratchPath: String?) {
        self.testsDirectory = testsDirectory
        self.packageDirectory = packageDirectory
        self.scratchPath = scratchPath
    }

    /// `explicit` (--tests) if given; else `Tests` in `currentDirectory`; else the Tests folder of
    /// the package an executable in `executables` was built in (`.build/debug/avp` → `../../Tests`,
    /// found by walking up to a folder with Package.swift and Tests).
    public static func find(explicit: String?, currentDirectory: String, executables: [String]) throws(ConformanceError) -> PackageLocation {
        let absolute = { (path: String) in
            URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true)).standardizedFileURL
        }
        var builds: [URL] = []
        for executable in executables {
            let build = absolute(executable).deletingLastPathComponent()
            if !builds.contains(build) { builds.append(build) }
        }
        func located(_ tests: URL) -> PackageLocation {
            let package = tests.deletingLastPathComponent()
            return PackageLocation(testsDirectory: tests.path, packageDirectory: package.path, scratchPath: scratch(of: package, in: builds))
        }
        if let explicit {
            let tests = absolute(explicit)
            guard isDirectory(tests.path) else { throw .noTestsDirectory(looked: [tests.path]) }
            return located(tests)
        }
        var looked: [String] = []
        let here = absolute(".").appendingPathComponent("Tests")
        if isDirectory(here.path) { return located(here) }
        looked.append(here.path)
        for build in builds {
            var directory = build
            while directory.path != "/" {
                let tests = directory.appendingPathComponent("Tests")
                if isDirectory(tests.path), FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                    return located(tests)
                }
                directory = directory.deletingLastPathComponent()
            }
            looked.append("the package above \(build.path)")
        }
        throw .noTestsDirectory(looked: looked)
    }

    /// The `.build*` folder directly in `package` that one of `builds` lies in, if any.
    static func scratch(of package: URL, in builds: [URL]) -> String? {
        for build in builds {
            var directory = build
            while directory.path != "/" {
                let parent = directory.deletingLastPathComponent()
                if parent.path == package.path { return directory.lastPathComponent.hasPrefix(".build") ? directory.path : nil }
                directory = parent
            }
        }
        return nil
    }

    private static func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }
}
