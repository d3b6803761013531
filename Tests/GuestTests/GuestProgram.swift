import Foundation
import Platform

/// A C program of `scripts/guest-programs/` compiled statically on the host for an x86-64 guest
/// (the host's gcc and glibc; the guest image has busybox only). Built once per test process.
enum GuestProgram {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: [UInt8]] = [:]

    static func binary(_ name: String) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if let bytes = built[name] { return bytes }
        let source = CCompiler.repository.appendingPathComponent("scripts/guest-programs/\(name).c").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("avp-\(name)-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        try CCompiler.run("cc -static -O2 -Wall -o '\(output)' '\(source)'", source: source, fix: "scripts/host-setup installs gcc and libc6-dev")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        built[name] = bytes
        return bytes
    }
}
