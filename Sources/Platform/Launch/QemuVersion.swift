import Foundation

/// The version a QEMU binary reports, for options that changed name between releases.
public struct QemuVersion: Comparable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static func < (a: QemuVersion, b: QemuVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public var description: String { "\(major).\(minor)" }

    /// Runs `qemu --version`; nil if it cannot be run or parsed.
    public static func of(_ qemu: String) -> QemuVersion? {
        guard let path = try? QemuProcess.resolve(qemu) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let range = text.range(of: "version ") else { return nil }
        let numbers = text[range.upperBound...].prefix { $0.isNumber || $0 == "." }.split(separator: ".").compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        return QemuVersion(major: numbers[0], minor: numbers[1])
    }

    /// The chardev option for reconnecting to a restarted server every half second.
    public var reconnectOption: String {
        self >= QemuVersion(major: 9, minor: 2) ? "reconnect-ms=500" : "reconnect=1"
    }
}
