/// Diagnostics of the platform rules, each placed at the line and column the schema
/// check recorded for its path ("vms[0].devices[1].mac"; "#key" points at the key).
struct DiagnosticReport {
    let marks: [String: (line: Int, column: Int)]
    private(set) var diagnostics: [Diagnostic] = []

    init(marks: [String: (line: Int, column: Int)]) { self.marks = marks }

    /// The mark of `path`, or of the nearest enclosing value that has one.
    func mark(_ path: String) -> (line: Int, column: Int) {
        var p = path
        while true {
            if let m = marks[p] { return m }
            if let m = marks[p.replacingOccurrences(of: "#key", with: "")] { return m }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return marks[""] ?? (1, 1) }
            p = String(p[..<cut])
        }
    }

    mutating func error(_ path: String, _ message: String, fix: String? = nil) {
        let m = mark(path)
        diagnostics.append(Diagnostic(.error, line: m.line, column: m.column, message, fix: fix))
    }

    mutating func warning(_ path: String, _ message: String, fix: String? = nil) {
        let m = mark(path)
        diagnostics.append(Diagnostic(.warning, line: m.line, column: m.column, message, fix: fix))
    }
}
