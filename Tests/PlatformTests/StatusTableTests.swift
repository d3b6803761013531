import Foundation
import Platform
import Testing

/// `avp status`'s table: every column lines up, whatever the names' lengths.
@Suite struct StatusTableTests {
    /// Where each column starts in a line: the first index of every run of non-spaces
    /// that follows a gap of at least `StatusTable.gap` spaces (or the line's start).
    static func columnStarts(_ line: String) -> [Int] {
        var starts: [Int] = []
        var spaces = StatusTable.gap
        for (i, c) in line.enumerated() {
            if c == " " { spaces += 1; continue }
            if spaces >= StatusTable.gap { starts.append(i) }
            spaces = 0
        }
        return starts
    }

    static func status(_ json: String) throws -> Supervisor.Status {
        try JSONDecoder().decode(Supervisor.Status.self, from: Data(json.utf8))
    }

    @Test("columns are as wide as their widest cell, header included; right-aligned ones end together")
    func widthsFromContent() {
        let table = StatusTable(columns: [.init("NAME"), .init("STATE"), .init("PID", .right)],
                                rows: [["a", "running", "7"],
                                       ["a-much-longer-name-of-30-chars", "x", "1234567"],
                                       ["b", "failed: status 1", "-"]])
        #expect(table.widths == [30, 16, 7])
        #expect(table.lines == [
            "NAME                            STATE                 PID",
            "a                               running                 7",
            "a-much-longer-name-of-30-chars  x                 1234567",
            "b                               failed: status 1        -",
        ])
        #expect(table.rendered == table.lines.joined(separator: "\n") + "\n")
    }

    @Test("a header wider than every cell sets the width; no trailing spaces; short rows are padded")
    func headerWidthAndShortRows() {
        let table = StatusTable(columns: [.init("KIND"), .init("NAME")], rows: [["vm", "x"], ["vm"]])
        #expect(table.lines == ["KIND  NAME", "vm    x", "vm"])
        #expect(StatusTable(columns: [.init("A"), .init("B", .right)]).lines == ["A  B"])
    }

    @Test("avp status's table lines up for short and 31-character names, a long state and large pids")
    func platformStatusAligned() throws {
        let long = "a-very-long-name-of-thirty-one-"   // the longest name the schema allows
        let status = try Self.status("""
            {"platform": "demo", "profile": "development", "supervisorPID": 1,
             "servers": [{"name": "\(long)", "kind": "server/entropy", "state": "running", "pid": 4194304, "restarts": 12},
                         {"name": "s", "kind": "server/block", "state": "failed: cannot bind /run/avp/x.sock: Address in use", "restarts": 0}],
             "vms": [{"name": "ivi", "kind": "vm/q35", "state": "running", "pid": 42, "restarts": 0},
                     {"name": "c", "kind": "vm/microvm", "state": "restarting", "restarts": 3, "lastExit": 1}]}
            """)
        let table = StatusTable(status: status, supervisorRunning: true)
        let lines = table.lines
        #expect(lines.count == 5)
        #expect(lines[0].hasPrefix("KIND    NAME"))
        #expect(lines[1].hasPrefix("vm      ivi"))
        #expect(lines[3].hasPrefix("server  \(long)  server/entropy"))
        // Left-aligned columns start at the header's column starts; right-aligned ones
        // (PID, RESTARTS) end where their titles end.
        let header = Self.columnStarts(lines[0])
        #expect(header.count == 6)
        let pidEnd = lines[0].range(of: "PID")!.upperBound.utf16Offset(in: lines[0])
        for line in lines.dropFirst() {
            #expect(Array(Self.columnStarts(line).prefix(3)) == Array(header.prefix(3)), "\(line)")
            #expect(line.count == lines[0].count, "\(line)")   // RESTARTS right-aligned: every line ends there
            let chars = Array(line)
            #expect(chars[pidEnd - 1] != " " && chars[pidEnd] == " ", "\(line)")
        }
        #expect(lines[1].hasSuffix("  42         0"))
        #expect(lines[3].hasSuffix("4194304        12"))
        #expect(lines[4].contains("failed: cannot bind /run/avp/x.sock: Address in use"))
    }

    @Test("without a running supervisor, running and restarting entries show as stopped")
    func stoppedWhenDown() throws {
        let status = try Self.status("""
            {"platform": "demo", "profile": "development", "supervisorPID": 1, "servers": [],
             "vms": [{"name": "a", "kind": "vm/q35", "state": "running", "pid": 42, "restarts": 0},
                     {"name": "b", "kind": "vm/q35", "state": "restarting", "restarts": 1},
                     {"name": "c", "kind": "vm/q35", "state": "powered off", "restarts": 0}]}
            """)
        let down = StatusTable(status: status, supervisorRunning: false).rows.map { $0[3] }
        #expect(down == ["stopped", "stopped", "powered off"])
        let up = StatusTable(status: status, supervisorRunning: true).rows.map { $0[3] }
        #expect(up == ["running", "restarting", "powered off"])
    }

    @Test("cells from status.json are escaped, so they cannot move the cursor or break the columns")
    func escapesControlCharacters() throws {
        let status = try Self.status("""
            {"platform": "demo", "profile": "development", "supervisorPID": 1, "servers": [],
             "vms": [{"name": "x\\u001b[2J\\ny", "kind": "vm/q35", "state": "running", "pid": 1, "restarts": 0}]}
            """)
        let lines = StatusTable(status: status, supervisorRunning: true).lines
        #expect(lines.count == 2 && lines[1].hasPrefix("vm    x\\u{1B}[2J\\ny  vm/q35"), "\(lines)")
        #expect(!lines.joined().contains("\u{1B}"))
    }
}
