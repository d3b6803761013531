import Foundation
import Platform
import SystemCalls
import Testing

/// {AVPS-v2.0-35}: QMP parsing, the QMP handshake, the `watchdog:` setting and what it adds
/// to the launch plan and `avp status`. The real-guest proof is Tests/GuestTests/WatchdogGuestTests.swift.
@Suite struct QmpParsingTests {
    static func parse(_ text: String) -> Result<QmpMessage, QmpError> {
        Result { () throws(QmpError) in try QmpMessage(line: Array(text.utf8)) }
    }

    @Test("AVPS-v2.0-35: QMP's greeting, returns, errors and the WATCHDOG event parse")
    func messages() {
        let greeting = #"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "Debian 1:10.0.2"}, "capabilities": ["oob"]}}"#
        #expect(Self.parse(greeting) == .success(.greeting(major: 10, minor: 0)))
        #expect(Self.parse(#"{"return": {}}"#) == .success(.success(id: nil)))
        #expect(Self.parse(#"{"return": [], "id": 7}"#) == .success(.success(id: "7")))
        #expect(Self.parse(#"{"error": {"class": "CommandNotFound", "desc": "The command x has not been found"}, "id": "a"}"#)
            == .success(.failure(id: "a", errorClass: "CommandNotFound", description: "The command x has not been found")))
        let event = #"{"timestamp": {"seconds": 1700000000, "microseconds": 12}, "event": "WATCHDOG", "data": {"action": "none"}}"#
        #expect(Self.parse(event) == .success(.event(name: "WATCHDOG", data: ["action": "none"])))
        // Only string members of data are kept; an event without data has none.
        #expect(Self.parse(#"{"event": "RESET", "data": {"guest": true, "reason": "guest-reset"}}"#)
            == .success(.event(name: "RESET", data: ["reason": "guest-reset"])))
        #expect(Self.parse(#"{"event": "STOP"}"#) == .success(.event(name: "STOP", data: [:])))
    }

    @Test("AVPS-v2.0-35: lines that are no QMP message are typed errors, long strings are cut")
    func badLines() {
        #expect(Self.parse("") == .failure(.notAnObject))
        #expect(Self.parse("not json") == .failure(.notAnObject))
        #expect(Self.parse("[1, 2]") == .failure(.notAnObject))
        #expect(Self.parse(#"{"event": 3}"#) == .failure(.malformed("event")))
        #expect(Self.parse(#"{"event": ""}"#) == .failure(.malformed("event")))
        #expect(Self.parse(#"{"event": "X", "data": []}"#) == .failure(.malformed("data")))
        #expect(Self.parse(#"{"QMP": 1}"#) == .failure(.malformed("QMP")))
        #expect(Self.parse(#"{"error": "x"}"#) == .failure(.malformed("error")))
        #expect(Self.parse(#"{"hello": 1}"#) == .failure(.unknownMessage))
        let long = String(repeating: "é", count: 1000)
        guard case let .success(.event(name, data)) = Self.parse(#"{"event": "\#(long)", "data": {"action": "\#(long)"}}"#) else {
            Issue.record("a long event did not parse")
            return
        }
        #expect(name.utf8.count <= 256 && data["action"]!.utf8.count <= 256 && name.hasPrefix("éé"))
    }

    @Test("AVPS-v2.0-35: the line reader splits at CRLF across reads and skips an overlong line")
    func lineReader() throws {
        var reader = QmpLineReader()
        #expect(reader.feed(Array(#"{"ret"#.utf8)).isEmpty)
        let first = reader.feed(Array("urn\": {}}\r\n\r\n{\"event\": \"STOP\"}\n{\"ev".utf8))
        #expect(first.count == 2)
        #expect(try first[0].get() == .success(id: nil))
        #expect(try first[1].get() == .event(name: "STOP", data: [:]))
        // The unfinished line is thrown away with the overlong one that continues it.
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: QmpLineReader.maxLine + 10)
        let second = reader.feed(big + Array("\r\n{\"event\": \"WATCHDOG\", \"data\": {\"action\": \"none\"}}\r\n".utf8))
        #expect(second.count == 2)
        #expect(second.first.map { if case .failure(.lineTooLong) = $0 { true } else { false } } == true)
        #expect(try second.last?.get() == .event(name: "WATCHDOG", data: ["action": "none"]))
    }
}

@Suite struct QmpConnectionTests {
    @Test("AVPS-v2.0-35: the supervisor's QMP client waits for the socket, negotiates, reads events and notices QEMU leaving")
    func handshakeAndEvents() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-qmp-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/vm.qmp"
        let connection = QmpConnection(path: path)
        #expect(connection.poll().isEmpty && connection.state == .connecting)   // no QEMU yet

        let listener = try UnixListener(path: path)
        #expect(connection.poll().isEmpty && connection.state == .awaitingGreeting)
        let qemu = try #require(try listener.accept(waitingMilliseconds: 2000))
        try qemu.send(Array(#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}}, "capabilities": []}}"#.utf8) + [13, 10])
        #expect(connection.poll().isEmpty && connection.state == .negotiating)
        let command = try qemu.receive(upTo: 100).bytes
        #expect(command == QmpMessage.capabilitiesCommand)
        try qemu.send(Array("{\"return\": {}}\r\n".utf8))
        #expect(connection.poll() == [.ready(qemu: "10.0")] && connection.state == .ready)

        try qemu.send(Array("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"WATCHDOG\", \"data\": {\"action\": \"none\"}}\r\nnonsense\r\n".utf8))
        let notices = connection.poll()
        #expect(notices.first == .event(name: "WATCHDOG", data: ["action": "none"]))
        #expect(notices.count == 2 && { if case .problem = notices[1] { true } else { false } }())
        qemu.shutdown()
        #expect(connection.poll() == [.closed] && connection.state == .connecting)
    }
}

@Suite struct WatchdogSettingTests {
    let s: Scratch
    init() throws { s = try Scratch() }

    func vm(_ extra: String, machine: String = "q35") -> String {
        """
        profile: development
        vms:
          - name: ecu
            machine: \(machine)
            kernel: vmlinuz
            initrd: initrd
        \(extra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            devices:
              - type: entropy
        """
    }

    @Test("AVPS-v2.0-35: a watchdog resolves with restart as its default action; none when absent")
    func resolves() throws {
        let r = s.load(vm("watchdog: {timeout: 10}"))
        let platform = try #require(r.platform, "\(errors(r))")
        #expect(platform.vms[0].watchdog == Platform.Watchdog(timeoutSeconds: 10, action: .restart))
        let notify = try #require(s.load(vm("watchdog:\n  timeout: 2046\n  action: notify")).platform)
        #expect(notify.vms[0].watchdog == Platform.Watchdog(timeoutSeconds: 2046, action: .notify))
        #expect(try #require(s.load(vm("")).platform).vms[0].watchdog == nil)
    }

    @Test("AVPS-v2.0-35: avp check refuses bad timeouts, actions, keys, and a watchdog on microvm (with the reason)")
    func refusals() {
        #expect(errors(s.load(vm("watchdog: {timeout: 0}"))).contains { $0.contains("'vms[0].watchdog.timeout' is 0; it must be a whole number from 1 to 2046") })
        #expect(errors(s.load(vm("watchdog: {timeout: 2047}"))).contains { $0.contains("from 1 to 2046") })
        #expect(errors(s.load(vm("watchdog: {timeout: 5, action: reboot}"))).contains {
            $0.contains("'vms[0].watchdog.action' is 'reboot', which is not one of: restart, poweroff, notify")
        })
        #expect(errors(s.load(vm("watchdog: {action: notify}"))).contains { $0.contains("lacks the required key 'timeout'") })
        #expect(errors(s.load(vm("watchdog: {timeout: 5, heartbeat: 5}"))).contains { $0.contains("heartbeat") })
        let micro = errors(s.load(vm("watchdog: {timeout: 5}", machine: "microvm")))
        #expect(micro == ["7:5 VM 'ecu' has a watchdog, but QEMU's microvm machine has no PCI bus for the i6300esb, the only watchdog QEMU offers on x86"], "\(micro)")
    }

    @Test("AVPS-v2.0-35: the plan gives QEMU an i6300esb that only reports, AVP's QMP monitor and the guest's heartbeat")
    func plan() throws {
        let state = s.directory + "/state"
        let p = try s.plan(vm("watchdog: {timeout: 7, action: poweroff}"), stateDirectory: state)
        let launch = p.vms[0]
        #expect(launch.watchdog == Platform.Watchdog(timeoutSeconds: 7, action: .poweroff))
        let args = launch.command.arguments.joined(separator: " ")
        #expect(args.contains("-device i6300esb,id=watchdog0 -action watchdog=none"))
        #expect(args.contains("-chardev socket,id=avp-qmp,path=\(state)/sockets/vm-ecu.qmp,server=on,wait=off -mon chardev=avp-qmp,mode=control"))
        #expect(launch.command.fullKernelArguments.contains("i6300esb.heartbeat=7"))
        let none = try s.plan(vm(""), stateDirectory: state)
        #expect(none.vms[0].watchdog == nil && !none.vms[0].command.arguments.contains("-mon"))
    }

    @Test("AVPS-v2.0-35, AVPS-v2.0-48: a production VM may have the watchdog's QMP monitor, and no other monitor")
    func productionLockdown() throws {
        let p = try s.plan(vm("watchdog: {timeout: 5}").replacingOccurrences(of: "development", with: "production"),
                           stateDirectory: s.directory + "/state")
        try ProductionLockdown.verify(p.vms[0].command.arguments)
        for bad in [["-mon", "chardev=avp-qmp,mode=readline"], ["-mon", "chardev=other,mode=control"]] {
            #expect(throws: ProductionLockdown.Violation.self) { try ProductionLockdown.verify(["-serial", "none"] + bad) }
        }
    }

    @Test("AVPS-v2.0-35: avp status counts watchdog expiries in a column of its own, shown only when a VM has a watchdog")
    func status() throws {
        let with = try JSONDecoder().decode(Supervisor.Status.self, from: Data("""
            {"platform": "p", "profile": "development", "supervisorPID": 1, "servers": [{"name": "s", "kind": "server/entropy", "state": "running", "restarts": 0}],
             "vms": [{"name": "ecu", "kind": "vm/q35", "state": "running", "pid": 5, "restarts": 2, "watchdogExpiries": 2},
                     {"name": "ivi", "kind": "vm/q35", "state": "running", "pid": 6, "restarts": 0}]}
            """.utf8))
        let lines = StatusTable(status: with, supervisorRunning: true).lines
        #expect(lines[0].hasSuffix("RESTARTS   WATCHDOG"))
        #expect(lines[1].hasSuffix("2  2 expired"))
        #expect(lines[2].hasSuffix("0          -"))
        #expect(lines[3].hasSuffix("0"))   // servers have no watchdog cell
        // A status file written before watchdogs existed still reads, and has no such column.
        let without = try JSONDecoder().decode(Supervisor.Status.self, from: Data("""
            {"platform": "p", "profile": "development", "supervisorPID": 1, "servers": [],
             "vms": [{"name": "ecu", "kind": "vm/q35", "state": "running", "restarts": 0}]}
            """.utf8))
        #expect(!StatusTable(status: without, supervisorRunning: false).lines[0].contains("WATCHDOG"))
    }
}
