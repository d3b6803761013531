import ArgumentParser
import Devices
import Foundation
import Platform
import SystemCalls
import ServerCommands

/// `avp gpio set|get|watch|list PLATFORM [LINE] [VALUE]`: the host's side of a running platform's
/// GPIO lines ({AVPS-v2.0-37}) through the GPIO server's control socket: set a simulated line's
/// level (the guests that see the line get their interrupts), read a line, or watch its changes.
struct GpioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpio",
        abstract: "Set, read or watch a running platform's GPIO lines (AVPS-v2.0-37).",
        discussion: """
            set changes a simulated line's host level (a guest driving the line as an output wins while it does); get prints \
            the level; watch prints the level, then each change with who made it (host or vm NAME) until --count changes or \
            --timeout seconds; list prints every line of the platform's GPIO blocks. With --control, the words name no platform \
            file: the server's control socket is given (a standalone avp serve gpio --control SOCKET).
              avp gpio set cockpit.yaml door-open 1
              avp gpio get cockpit.yaml reverse-gear
              avp gpio watch cockpit.yaml reverse-gear --count 1
              avp gpio list --control /tmp/gpio-control.sock
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable { case set, get, watch, list }

    @Argument(help: "set, get, watch or list.") var action: Action
    @Argument(help: "PLATFORM LINE [VALUE] (without --control), or LINE [VALUE].") var words: [String] = []
    @Option(help: ArgumentHelp("The GPIO server's control socket, instead of a platform file.", valueName: "socket")) var control: String?
    @Option(help: "watch: stop after this many changes.") var count: Int?
    @Option(help: "watch: stop after this many seconds.") var timeout: Double?

    func run() throws {
        var rest = words
        var sockets: [(path: String, lines: [String]?)] = []
        var file = "the server"
        if let control {
            sockets = [(control, nil)]
        } else {
            guard !rest.isEmpty else { throw ValidationError("give the platform file (or --control SOCKET)") }
            file = rest.removeFirst()
            let platform = try PlatformFileArgument.parse([file]).load(quietWarnings: true, checkingFiles: false)
            let state = StateDirectory.default(for: platform)
            let blocks = platform.gpioBlocks
            guard !blocks.isEmpty else { throw CommandFailure("no VM of \(file) has a gpio device ('- type: gpio')") }
            sockets = blocks.keys.sorted().map { (state.gpioControlSocket(block: $0), blocks[$0]) }
        }
        if action == .list {
            for socket in sockets {
                guard case let .lines(lines) = try ask(.list, socket.path, file) else { continue }
                for l in lines { print("\(l.name) \(l.value ? 1 : 0)\(l.drivenBy.map { "  driven by VM \($0)" } ?? "")") }
            }
            return
        }
        guard !rest.isEmpty else { throw ValidationError("give the line's name") }
        let name = rest.removeFirst()
        let matching = sockets.filter { $0.lines?.contains(name) ?? true }
        guard let socket = matching.first else { throw CommandFailure("no gpio device of \(file) has a line '\(name)'") }
        switch action {
        case .list: break
        case .get:
            print(try level(name, socket.path, file) ? 1 : 0)
        case .set:
            guard rest.count == 1, let value = ["0": false, "1": true][rest[0]] else { throw ValidationError("set needs the value 0 or 1") }
            if case let .lines(lines) = try ask(.set(line: name, value: value), socket.path, file), let by = lines.first?.drivenBy {
                print("note: VM \(by) drives '\(name)' as an output; the host level applies when it stops")
            }
        case .watch:
            try watch(name, socket.path, file)
        }
    }

    private func ask(_ request: GpioControlRequest, _ path: String, _ file: String) throws -> GpioControlResponse {
        let client = try ControlSocketClient(path: path, server: "the GPIO server", file: file)
        let response = try GpioControlResponse(line: try client.ask(request.line))
        if case let .refused(reason) = response { throw CommandFailure(reason) }
        return response
    }

    private func level(_ name: String, _ path: String, _ file: String) throws -> Bool {
        guard case let .lines(lines) = try ask(.get(line: name), path, file), let line = lines.first else {
            throw CommandFailure("the GPIO server did not answer with the line")
        }
        return line.value
    }

    /// Polls the server's change history (every 5 ms) and prints the line's changes as they come.
    private func watch(_ name: String, _ path: String, _ file: String) throws {
        guard case var .changes(start) = try ask(.changes(after: UInt64.max - 1), path, file) else { return }
        emit("\(name) \(try level(name, path, file) ? 1 : 0)")
        let deadline = timeout.map { MonotonicClock.nanoseconds() + UInt64($0 * 1e9) }
        var seen = 0
        while count.map({ seen < $0 }) ?? true {
            if let deadline, MonotonicClock.nanoseconds() >= deadline { throw ExitCode(2) }
            guard case let .changes(batch) = try ask(.changes(after: start.next), path, file) else { return }
            if batch.lost > 0 { emit("(\(batch.lost) changes of the block were lost from its history)") }
            for change in batch.changes where change.line == name {
                emit("\(name) \(change.value ? 1 : 0) (\(change.origin))")
                seen += 1
                if let count, seen >= count { break }
            }
            start = batch
            usleep(5000)
        }
    }

    /// One line on standard output at once (watch's readers follow it through a pipe).
    private func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
}
