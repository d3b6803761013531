import Foundation
import Platform

/// Every `avp serve` kind started as the tests' sandbox suites need it: listening sockets in a
/// fresh directory (no guest ever connects), plus what the kind needs to start at all.
struct SandboxedKind: CustomStringConvertible, Sendable {
    let name: String
    /// `serve KIND …` with sockets and files in `dir`.
    let arguments: @Sendable (_ dir: String) -> [String]
    /// Files the kind needs before it starts (relative to `dir`), with their contents.
    var files: [String: Data] = [:]

    var description: String { name }

    func commandLine(in dir: String, sandbox: String? = nil) throws -> [String] {
        for (file, contents) in files {
            try FileManager.default.createDirectory(atPath: dir + "/" + (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: dir + "/" + file, contents: contents)
        }
        return ["serve", name] + arguments(dir) + (sandbox.map { ["--sandbox", $0] } ?? [])
    }

    /// The socket whose appearance says the server has bound its listeners.
    func socket(in dir: String) -> String { dir + "/\(name).sock" }

    static let all: [SandboxedKind] = [
        SandboxedKind(name: "entropy") { ["--socket", $0 + "/entropy.sock"] },
        SandboxedKind(name: "block", arguments: { ["--socket", $0 + "/block.sock", "--file", $0 + "/disk.img"] }, files: ["disk.img": Data(count: 1 << 20)]),
        SandboxedKind(name: "console") { ["--socket", $0 + "/console.sock", "--attach", $0 + "/attach.sock", "--log", $0 + "/console.log"] },
        SandboxedKind(name: "crypto") { ["--socket", $0 + "/crypto.sock"] },
        SandboxedKind(name: "gpio") { ["--socket", $0 + "/gpio.sock", "--line", "door", "--line", "lamp", "--control", $0 + "/gpio-control.sock"] },
        SandboxedKind(name: "gpu") { ["--socket", $0 + "/gpu.sock"] },
        SandboxedKind(name: "i2c") { ["--socket", $0 + "/i2c.sock", "--target", "eeprom@0x50:" + $0 + "/board.eeprom", "--target", "temperature@0x48:21.5"] },
        SandboxedKind(name: "input") { ["--socket", $0 + "/input.sock", "--events-socket", $0 + "/events.sock"] },
        // A host sensor file is read on every request: its directory is bound read-only.
        SandboxedKind(name: "scmi", arguments: {
            ["--socket", $0 + "/scmi.sock", "--signal", "speed=12", "--sensor", "name=speed,unit=m/s,signal=speed",
             "--sensor", "name=board,unit=celsius,file=\($0)/hwmon/temp1_input", "--reset-domain", "ecu"]
        }, files: ["hwmon/temp1_input": Data("21500\n".utf8)]),
        SandboxedKind(name: "sound") { ["--socket", $0 + "/sound.sock", "--tone", "440"] },
        SandboxedKind(name: "switch") { ["--port", "name=a,listen=\($0)/switch.sock,mac=52:54:00:12:34:56", "--stats", $0 + "/switch.json"] },
        SandboxedKind(name: "vsock") { ["--vm", "name=a,cid=3,listen=\($0)/vsock.sock,uds=\($0)/host.sock"] },
    ]
}
