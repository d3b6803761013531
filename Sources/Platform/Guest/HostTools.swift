import Foundation

/// Host programs copied into a guest layer together with the shared libraries
/// `ldd` says they need, so tests can run Debian tools (fio, mkfs.ext4, e2fsck,
/// util-linux's blkdiscard) in the busybox guest. Programs land in
/// /usr/local/bin, libraries at their host paths.
public enum HostTools {
    public static let binDirectory = "usr/local/bin"

    /// Layer files (relative path → contents) for `programs`: names found on PATH or in /sbin,
    /// /usr/sbin, or paths (a program built for the test, e.g. a static one).
    public static func files(for programs: [String]) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in programs {
            let path = try locate(name)
            files[binDirectory + "/" + URL(fileURLWithPath: name).lastPathComponent] = try read(path)
            for library in try sharedLibraries(of: path) {
                files[String(library.drop(while: { $0 == "/" }))] = try read(library)
            }
        }
        return files
    }

    /// Layer files for programs given by path (a build's own binaries, such as `avp`), installed
    /// in /usr/local/bin under their file names, with the libraries they need.
    public static func files(forProgramsAt paths: [String]) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for path in paths {
            files[binDirectory + "/" + URL(fileURLWithPath: path).lastPathComponent] = try read(path)
            for library in try sharedLibraries(of: path) {
                files[String(library.drop(while: { $0 == "/" }))] = try read(library)
            }
        }
        return files
    }

    static func locate(_ name: String) throws -> String {
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else {
                throw PlatformError.missingFile(name, fix: "give the path of an executable program")
            }
            return name
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/sbin", "/usr/sbin", "/usr/bin", "/bin"]
        for dir in dirs where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        throw PlatformError.missingFile(name, fix: "install it on the host (scripts/host-setup installs the tools tests use)")
    }

    /// Absolute paths of the libraries and loader ldd(1) lists for `binary`.
    static func sharedLibraries(of binary: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        process.arguments = [binary]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var libraries: [String] = []
        for line in output.split(separator: "\n") {
            // "libx.so.1 => /lib/x86_64-linux-gnu/libx.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let fields = line.split(separator: " ").map { $0.trimmingCharacters(in: .whitespaces) }
            if let arrow = fields.firstIndex(of: "=>"), arrow + 1 < fields.count, fields[arrow + 1].hasPrefix("/") {
                libraries.append(fields[arrow + 1])
            } else if let first = fields.first, first.hasPrefix("/") {
                libraries.append(first)
            }
        }
        return libraries
    }

    private static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlatformError.missingFile(path, fix: "cannot read it")
        }
        return [UInt8](data)
    }
}
