import Foundation

/// A running QEMU. Every wait has a timeout: QEMU pauses instead of exiting on
/// some fatal guest errors, so a guest that stops making progress is killed.
public final class QemuProcess: @unchecked Sendable {
    public let command: QemuCommandLine
    private let process = Process()

    public enum Output {
        /// QEMU's own stdout and stderr go to this file.
        case file(String)
        /// QEMU shares this process's terminal (interactive console).
        case inherit
        /// QEMU's stdout (the console with `.stdio` serial) is streamed to `handler`; stderr inherited.
        case stream(@Sendable (String) -> Void)
    }

    private var streamThread: Thread?

    public init(command: QemuCommandLine, output: Output) throws {
        self.command = command
        process.executableURL = URL(fileURLWithPath: try Self.resolve(command.qemu))
        process.arguments = command.arguments
        switch output {
        case let .file(path):
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
        case .inherit:
            break
        case let .stream(handler):
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardInput = FileHandle.nullDevice
            let reader = pipe.fileHandleForReading
            let thread = Thread {
                while true {
                    let data = reader.availableData
                    if data.isEmpty { break }
                    handler(String(decoding: data, as: UTF8.self))
                }
            }
            streamThread = thread
        }
        try process.run()
        streamThread?.start()
    }

    public convenience init(command: QemuCommandLine, outputPath: String) throws {
        try self.init(command: command, output: .file(outputPath))
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Waits for QEMU to exit; after `timeoutSeconds` kills it and returns nil.
    public func wait(timeoutSeconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning {
            if Date() > deadline {
                kill()
                return nil
            }
            usleep(20_000)
        }
        return process.terminationStatus
    }

    /// SIGKILL (what a crash looks like to the device servers), then reap.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Finds an executable by name on PATH (or accepts a path).
    public static func resolve(_ name: String) throws -> String {
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else { throw PlatformError.qemuNotFound(name) }
            return name
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw PlatformError.qemuNotFound(name)
    }
}
