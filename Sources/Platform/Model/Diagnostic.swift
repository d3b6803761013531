import ServerCommands

/// One problem found in a platform file, where it is and how to fix it.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var line: Int
    public var column: Int
    public var message: String
    public var fix: String?

    /// Control characters in `message` and `fix` are escaped whatever put them there, so a
    /// diagnostic is always one line (plus its fix) that cannot act on the terminal.
    public init(_ severity: Severity = .error, line: Int, column: Int, _ message: String, fix: String? = nil) {
        self.severity = severity
        self.line = line
        self.column = column
        self.message = UserText.escapingControlCharacters(message)
        self.fix = fix.map(UserText.escapingControlCharacters)
    }

    /// `file:line:column: error: message` then the fix, as compilers print it.
    public func formatted(file: String) -> String {
        var s = "\(UserText.escapingControlCharacters(file)):\(line):\(column): \(severity.rawValue): \(message)"
        if let fix { s += "\n    fix: \(fix)" }
        return s
    }

    public var description: String { formatted(file: "<platform>") }
}
