/// The matrix as an aligned plain-text table: requirement, status, title, and the first proving
/// test (with how many more) or the reason for any other status.
enum ConformanceText {
    static func render(_ matrix: ConformanceMatrix) -> String {
        var table = StatusTable(columns: [.init("REQUIREMENT"), .init("STATUS"), .init("TITLE"), .init("EVIDENCE OR REASON")])
        for row in matrix.rows {
            table.rows.append([row.requirement.id.description, row.status.label, row.requirement.title, evidence(row)])
        }
        let heading = "AVPS v2.0 conformance" + (matrix.platformName.map { " of platform '\($0)'" } ?? "") + ": " + matrix.summary + "\n"
        return heading + table.rendered
    }

    private static func evidence(_ row: ConformanceRow) -> String {
        var cell = ""
        if let reason = row.status.reason { cell = reason }
        let shown = row.status == .implemented ? row.provingTests : row.realGuestTests
        if let first = shown.first {
            let mark = row.outcomes[first.test].map { $0.mark + " " } ?? ""
            let more = shown.count + row.hostSideTests.count - 1
            let tests = mark + first.test.name + (more > 0 ? " (+\(more))" : "")
            cell = cell.isEmpty ? tests : cell + " — " + tests
        } else if !row.hostSideTests.isEmpty, cell.isEmpty {
            cell = "\(row.hostSideTests.count) host-side test(s)"
        }
        return cell
    }
}
