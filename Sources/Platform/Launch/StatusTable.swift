import ServerCommands

/// A plain-text table whose columns are as wide as their widest cell, header included:
/// what `avp status` prints.
///
/// Padded by hand: Foundation's `String(format:)` on Linux ignores widths for `%@`.
/// Widths count `Character`s, which is the terminal width for the ASCII the platform
/// file's names allow; cells are expected to be escaped already (`UserText`).
public struct StatusTable: Sendable, Equatable {
    public enum Alignment: Sendable, Equatable { case left, right }

    public struct Column: Sendable, Equatable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    /// Spaces between two columns.
    public static let gap = 2

    public var columns: [Column]
    /// Each row has one cell per column; missing cells are empty, extra ones ignored.
    public var rows: [[String]]

    public init(columns: [Column], rows: [[String]] = []) {
        self.columns = columns
        self.rows = rows
    }

    /// Each column's width: its widest cell or title.
    public var widths: [Int] {
        columns.indices.map { i in
            rows.reduce(columns[i].title.count) { widest, row in max(widest, i < row.count ? row[i].count : 0) }
        }
    }

    /// The header line and one line per row, without trailing spaces.
    public var lines: [String] {
        let widths = self.widths
        func line(_ cells: [String]) -> String {
            var text = ""
            for (i, column) in columns.enumerated() {
                let cell = i < cells.count ? cells[i] : ""
                let padding = String(repeating: " ", count: widths[i] - cell.count)
                if i > 0 { text += String(repeating: " ", count: Self.gap) }
                text += column.alignment == .left ? cell + padding : padding + cell
            }
            while text.last == " " { text.removeLast() }
            return text
        }
        return [line(columns.map(\.title))] + rows.map(line)
    }

    /// `lines`, each ending in a newline.
    public var rendered: String { lines.map { $0 + "\n" }.joined() }
}

extension StatusTable {
    /// The VMs, then the device servers, of a recorded status. Without a running
    /// supervisor (`supervisorRunning` false), a "running" or "restarting" entry is
    /// shown as "stopped": the record is the last the supervisor wrote. Cells from the
    /// status file are escaped and cut short (`UserText.shortened`): anyone who can
    /// write the file chooses them. When a VM has a watchdog ({AVPS-v2.0-35}), a WATCHDOG column
    /// counts its expiries ("-" for VMs without one).
    public init(status: Supervisor.Status, supervisorRunning: Bool) {
        let watchdogs = status.vms.contains { $0.watchdogExpiries != nil }
        self.init(columns: [Column("KIND"), Column("NAME"), Column("TYPE"), Column("STATE"),
                            Column("PID", .right), Column("RESTARTS", .right)] + (watchdogs ? [Column("WATCHDOG", .right)] : []))
        for (label, entries) in [("vm", status.vms), ("server", status.servers)] {
            for e in entries {
                let state = !supervisorRunning && (e.state == "running" || e.state == "restarting") ? "stopped" : e.state
                rows.append([label, UserText.shortened(e.name), UserText.shortened(e.kind), UserText.shortened(state),
                             e.pid.map { String($0) } ?? "-", String(e.restarts)]
                            + (watchdogs && label == "vm" ? [e.watchdogExpiries.map { "\($0) expired" } ?? "-"] : []))
            }
        }
    }
}
