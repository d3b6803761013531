import Foundation
import Platform

/// The host's C compiler, for the small C programs the tests build (`scripts/guest-programs`, `scripts/host-programs`).
enum CCompiler {
    /// The repository's root (this file is Tests/GuestTests/CCompiler.swift).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `command` (a shell line, so `$(pkg-config ...)` works); fails with the compiler's messages and `fix`.
    static func run(_ command: String, source: String, fix: String) throws {
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/bin/sh")
        cc.arguments = ["-c", command]
        let errors = Pipe()
        cc.standardError = errors
        try cc.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else {
            throw PlatformError.launchFailed("building \(source) failed (\(fix)): " + String(decoding: message, as: UTF8.self))
        }
    }
}
