/// One problem found in a platform file, where it is and how to fix it.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var line: Int
    public var column: Int
    public var message: String
    public var fix: String?

    public init(_ severity: Severity = .error, line: Int, column: Int, _ message: String, fix: String? = nil) {
        self.severity = severity
        self.line = line
        self.column = column
        self.message = message
        self.fix = fix
    }

    /// `file:line:column: error: message` then the fix, as compilers print it.
    public func formatted(file: String) -> String {
        var s = "\(file):\(line):\(column): \(severity.rawValue): \(message)"
        if let fix { s += "\n    fix: \(fix)" }
        return s
    }

    public var description: String { formatted(file: "<platform>") }
}
