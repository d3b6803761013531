import Foundation

/// A guest's serial console captured in a file, searched for the image's markers.
public struct ConsoleLog: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var text: String {
        (try? String(contentsOfFile: path, encoding: .utf8))
            ?? String(decoding: (FileManager.default.contents(atPath: path) ?? Data()), as: UTF8.self)
    }

    /// Polls until `marker` appears; false after the timeout or once `running` says the guest is gone.
    public func waitFor(_ marker: String, timeoutSeconds: Double, while running: () -> Bool = { true }) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if text.contains(marker) { return true }
            if !running() { return text.contains(marker) }
            usleep(50_000)
        }
        return false
    }

    /// The status a test script reported with `AVP-TEST-EXIT=<n>`, if any.
    public var testExitStatus: Int32? { Self.exitStatus(in: text) }

    public static func exitStatus(in text: String) -> Int32? {
        guard let range = text.range(of: GuestImage.exitMarker, options: .backwards) else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        return Int32(digits)
    }
}
