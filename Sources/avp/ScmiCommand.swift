import ArgumentParser
import Devices
import Foundation
import Platform
import ServerCommands

/// `avp scmi status|set|clear|limit PLATFORM ...`: the host's side of a running platform's SCMI
/// server ({AVPS-v2.0-39}, {AVPS-v2.0-36}) through its control socket: the sensors' values and
/// domains' states, a simulated signal's value, a performance domain's host limit.
struct ScmiCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scmi",
        abstract: "Read or set a running platform's SCMI sensors' signals and performance limits (AVPS-v2.0-36/39).",
        discussion: """
            status prints every sensor's value and source, the signals, each performance domain's level, limit and VM \
            requests, power domains' states and reset counts. set overrides a simulated signal until clear; every sensor \
            reading it follows at its next reading. limit caps a performance domain (kHz; 'none' lifts the cap): every VM \
            mapped to it reads the capped level. With --control, the words name no platform file.
              avp scmi status car.yaml
              avp scmi set car.yaml coolant 104.5
              avp scmi limit car.yaml cpu 1200000
              avp scmi get --control /tmp/scmi-control.sock coolant
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable { case status, get, set, clear, limit }

    @Argument(help: "status, get, set, clear or limit.") var action: Action
    @Argument(help: "PLATFORM [NAME] [VALUE] (without --control), or NAME [VALUE].") var words: [String] = []
    @Option(help: ArgumentHelp("The SCMI server's control socket, instead of a platform file.", valueName: "socket")) var control: String?

    func run() throws {
        var rest = words
        var path = control ?? ""
        var file = "the server"
        if control == nil {
            guard !rest.isEmpty else { throw ValidationError("give the platform file (or --control SOCKET)") }
            file = rest.removeFirst()
            let platform = try PlatformFileArgument.parse([file]).load(quietWarnings: true, checkingFiles: false)
            guard platform.hasScmi else { throw CommandFailure("no VM of \(file) has an scmi device ('- type: scmi')") }
            path = StateDirectory.default(for: platform).scmiControlSocket
        }
        let request: ScmiControlRequest
        switch action {
        case .status, .get: request = .status
        case .set:
            guard rest.count == 2, let value = Double(rest[1]), value.isFinite else { throw ValidationError("set needs SIGNAL VALUE") }
            request = .set(signal: rest[0], value: value)
        case .clear:
            guard rest.count == 1 else { throw ValidationError("clear needs SIGNAL") }
            request = .clear(signal: rest[0])
        case .limit:
            guard rest.count == 2, rest[1] == "none" || UInt32(rest[1]) != nil else {
                throw ValidationError("limit needs DOMAIN and a level in kHz (or none)")
            }
            request = .limit(domain: rest[0], level: UInt32(rest[1]))
        }
        let client = try ControlSocketClient(path: path, server: "the SCMI server", file: file)
        let response = try ScmiControlResponse(line: try client.ask(request.line))
        guard case let .status(report) = response else {
            if case let .refused(reason) = response { throw CommandFailure(reason) }
            return
        }
        if action == .get {
            guard let name = rest.first else { throw ValidationError("get needs a sensor or signal name") }
            if let s = report.sensors.first(where: { $0.name == name }) {
                print(s.value.map { "\($0)" } ?? "unreadable")
            } else if let s = report.signals.first(where: { $0.name == name }) {
                print(s.value.map { "\($0)" } ?? "unreadable")
            } else {
                throw CommandFailure("no sensor or signal '\(name)'; sensors: \(report.sensors.map(\.name).joined(separator: ", "))")
            }
            return
        }
        guard action == .status else { return }
        for s in report.sensors { print("sensor \(s.name) \(s.value.map { "\($0)" } ?? "unreadable") \(s.unit.rawValue) (\(s.origin))") }
        for s in report.signals { print("signal \(s.name) \(s.value.map { "\($0)" } ?? "-")\(s.set ? " (set by the host)" : "")") }
        for d in report.performance {
            let requests = d.requests.keys.sorted().map { "\($0)=\(d.requests[$0]!)" }.joined(separator: " ")
            print("performance \(d.name) level \(d.level) limit \(d.limit.map(String.init) ?? "none") requests [\(requests)]")
        }
        for d in report.power { print("power \(d.name) \(d.on == true ? "on" : "off")") }
        for d in report.reset { print("reset \(d.name) \(d.resets ?? 0) resets") }
    }
}
