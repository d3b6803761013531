import Foundation
import Platform

/// Runs qemu-system-aarch64 as the peer of AVP's arm64 device tree: the same command line with
/// QEMU's own virtio-rng-device standing in for each vhost-user device (no back end needed; a
/// transport's place depends only on the -device order), dumping QEMU's tree or its qtree.
enum ArmQemu {
    struct Run {
        var status: Int32
        var output: String
    }

    static func run(_ executable: String, _ arguments: [String], input: String? = nil, timeout: Double = 60) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("avp-armqemu-\(UInt64.random(in: 0...UInt64.max)).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        defer { unlink(logPath) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? log.close()
        let data = FileManager.default.contents(atPath: logPath) ?? Data()
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    static func write(_ blob: [UInt8], _ path: String) throws -> String {
        try Data(blob).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The plan's arguments with stand-ins for the vhost-user devices and no kernel, console or -dtb.
    static func standInArguments(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let option = arguments[i], value = i + 1 < arguments.count ? arguments[i + 1] : ""
            i += 2
            switch option {
            case "-chardev", "-netdev", "-kernel", "-initrd", "-append", "-dtb": continue
            case "-serial": out += ["-serial", "none"]
            case "-device":
                if value.hasPrefix("virtconsole") { continue }
                if value.hasPrefix("virtio-serial-device") { out += [option, value]; continue }
                let id = value.split(separator: ",").first { $0.hasPrefix("id=") }.map { String($0.dropFirst(3)) } ?? "x"
                out += ["-device", "virtio-rng-device,id=\(id)"]
            default:
                if option.hasPrefix("-") && (value.hasPrefix("-") || value.isEmpty) && !["-m", "-smp", "-cpu", "-display", "-machine", "-object", "-global"].contains(option) {
                    out.append(option)
                    i -= 1
                } else {
                    out += [option, value]
                }
            }
        }
        return out
    }

    static func dumping(_ arguments: [String], to path: String) -> [String] {
        guard let m = arguments.firstIndex(of: "-machine") else { return arguments }
        var a = arguments
        a[m + 1] += ",dumpdtb=\(path)"
        return a
    }

    /// Each device id's virtio-mmio transport, from the monitor's `info qtree`.
    static func transports(_ arguments: [String]) throws -> (placed: [String: Int], output: String) {
        let run = try run("/usr/bin/qemu-system-aarch64", arguments + ["-S", "-monitor", "stdio"], input: "info qtree\nquit\n")
        var result: [String: Int] = [:]
        var bus: Int?
        // The monitor ends lines with CR LF, one Character in Swift: split on either.
        for line in run.output.components(separatedBy: .newlines).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("bus: virtio-mmio-bus.") { bus = Int(line.dropFirst("bus: virtio-mmio-bus.".count)) }
            else if line.hasPrefix("dev: "), let bus, let q = line.range(of: "id \"") {
                let id = line[q.upperBound...].prefix { $0 != "\"" }
                if !id.isEmpty, line.hasPrefix("dev: virtio-") && !line.hasPrefix("dev: virtio-mmio,") { result[String(id)] = bus }
            } else if line.hasPrefix("bus: ") { bus = nil }
        }
        return (result, run.output)
    }

    /// A referencing property's cells with phandles replaced by the path of the node they name
    /// (the first cell; every cell of `clocks`, whose fixed clock has no specifier cells).
    static func targets(_ value: DeviceTreeNode.Value, in tree: DeviceTreeNode, allPhandles: Bool = false) -> [String] {
        guard case let .bytes(b) = value else { return [] }
        let cells = stride(from: 0, to: b.count - 3, by: 4).map { i in (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(b[i + $1]) } }
        var paths: [UInt32: String] = [:]
        for (path, node) in tree.allNodes() {
            if let p = node.property("phandle") {
                let e = p.encoded
                if e.count == 4 { paths[e.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }] = path }
            }
        }
        return cells.enumerated().map { i, c in (i == 0 || allPhandles) ? (paths[c] ?? "?\(c)") : String(c) }
    }
}
