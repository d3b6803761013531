import Foundation

/// GRUB for arm64 UEFI as one EFI program, built and cached by `scripts/grub-efi-arm64`.
public enum GrubEfiImage {
    /// Runs `scripts/grub-efi-arm64` of this source tree (quick when the cached image is
    /// current; the first time it downloads Debian's grub-efi-arm64-bin:arm64) and returns
    /// the image's path.
    public static func ensureBuilt() throws -> String {
        let script = try locateScript()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let path = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationReason == .exit, process.terminationStatus == 0,
              FileManager.default.fileExists(atPath: path) else {
            throw PlatformError.launchFailed("\(script) failed (status \(process.terminationStatus)); see its messages above")
        }
        return path
    }

    static func locateScript() throws -> String {
        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [sourceRoot.appendingPathComponent("scripts/grub-efi-arm64").path,
                          FileManager.default.currentDirectoryPath + "/scripts/grub-efi-arm64"]
        guard let script = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw PlatformError.missingFile(candidates[0], fix: "run from the AVP source tree")
        }
        return script
    }
}
