import Foundation

/// Headless Chromium for tests that look at a page as a person would: a screenshot of a URL
/// at a given window size, one device pixel per CSS pixel.
public enum HeadlessBrowser {
    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The browser, or nil where none is installed (scripts/host-setup installs chromium).
    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Loads `url` in a `width`x`height` window and writes a PNG of it to `path` once the
    /// page's load event (its images included) has come. (No virtual time budget: it would
    /// wait for a page's pending long polls.)
    public static func screenshot(_ url: String, width: Int, height: Int, to path: String, timeoutSeconds: Double = 60) throws {
        guard let browser = executable else { throw Failed(description: "no chromium installed (scripts/host-setup)") }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("avp-chromium-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: browser)
        // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
                       "--no-first-run", "--disable-extensions", "--user-data-dir=\(profile)", "--window-size=\(width),\(height)",
                       "--screenshot=\(path)", url]
        let log = Pipe()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let output = LockedData()
        let reader = Thread { output.set(log.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        while p.isRunning, Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failed(description: "chromium wrote no screenshot of \(url) (status \(p.terminationStatus)): \(String(decoding: output.get().suffix(2000), as: UTF8.self))")
        }
    }

    private final class LockedData: @unchecked Sendable {
        private var data = Data()
        private let lock = NSLock()
        func set(_ d: Data) { lock.withLock { data = d } }
        func get() -> Data { lock.withLock { data } }
    }
}
