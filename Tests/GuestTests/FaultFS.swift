import Foundation
import Platform

/// `scripts/host-programs/faultfs.c` mounted for one test: a FUSE file `disk.img` backed by a host file, with slow
/// fsyncs, EIO ranges or ENOSPC past a size — storage that misbehaves on purpose under a block server.
final class FaultFS {
    enum Fault {
        /// Each fsync delayed by `milliseconds`.
        case fsyncDelay(milliseconds: Int)
        /// Each read delayed by a random 0...milliseconds. Reads run beside writes (FUSE serializes a file's writes and
        /// fsyncs, not its reads): requests finish out of order.
        case readDelay(milliseconds: Int)
        /// Each write delayed by a random 0...milliseconds.
        case writeDelay(milliseconds: Int)
        /// Reads and writes touching [offset, offset + length) fail with EIO.
        case ioError(offset: Int, length: Int)
        /// Writes reaching past `bytes` fail with ENOSPC.
        case noSpace(after: Int)

        var arguments: [String] {
            switch self {
            case let .fsyncDelay(ms): return ["--fsync-delay-ms", "\(ms)"]
            case let .readDelay(ms): return ["--read-delay-ms", "\(ms)"]
            case let .writeDelay(ms): return ["--write-delay-ms", "\(ms)"]
            case let .ioError(offset, length): return ["--eio", "\(offset):\(length)"]
            case let .noSpace(bytes): return ["--enospc-after", "\(bytes)"]
            }
        }
    }

    let mountPoint: String
    /// The file a server opens: `mountPoint/disk.img`.
    var image: String { mountPoint + "/disk.img" }
    private let process = Process()

    /// Mounts `backing` at `mountPoint` (created) with `faults`; returns once the file is there.
    init(backing: String, mountPoint: String, faults: [Fault], logPath: String) throws {
        self.mountPoint = mountPoint
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = [backing, mountPoint] + faults.flatMap(\.arguments)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !isMounted, process.isRunning, Date() < deadline { usleep(20_000) }
        guard isMounted else {
            unmount()
            throw PlatformError.launchFailed("faultfs never mounted at \(mountPoint) (/dev/fuse and root needed); log: "
                                             + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
        }
    }

    private var isMounted: Bool {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").contains { $0.split(separator: " ").dropFirst(4).first.map(String.init) == mountPoint }
    }

    func unmount() {
        let fusermount = Process()
        fusermount.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fusermount.arguments = ["fusermount3", "-u", "-z", mountPoint]
        fusermount.standardError = FileHandle.nullDevice
        if (try? fusermount.run()) != nil { fusermount.waitUntilExit() }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { unmount() }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: String?

    /// Compiles faultfs against libfuse3 once per test process.
    static func binary() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let source = CCompiler.repository.appendingPathComponent("scripts/host-programs/faultfs.c").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("avp-faultfs-\(getpid())").path
        try CCompiler.run("cc -O2 -Wall -o '\(output)' '\(source)' $(pkg-config --cflags --libs fuse3)", source: source,
                          fix: "scripts/host-setup installs libfuse3-dev, fuse3 and pkg-config")
        built = output
        return output
    }
}
