/// Where one swift-testing test is: its test target, suite types and function, its display name
/// and its source position. What the matrix cites as evidence and `--run` filters for.
public struct TestReference: Hashable, Sendable, Comparable {
    /// The test target: the folder under Tests ("GuestTests").
    public var target: String
    /// The enclosing types, outermost first (empty for a free function).
    public var suitePath: [String]
    public var function: String
    public var displayName: String?
    /// The file, relative to the package ("Tests/GuestTests/EntropyGuestTests.swift").
    public var file: String
    public var line: Int

    public init(target: String, suitePath: [String], function: String, displayName: String?, file: String, line: Int) {
        self.target = target
        self.suitePath = suitePath
        self.function = function
        self.displayName = displayName
        self.file = file
        self.line = line
    }

    /// The innermost suite type, if any.
    public var suite: String? { suitePath.last }

    /// "EntropyInRealGuest/linuxDriverReadsEntropy": suite types and function, as swift-testing's ID has them.
    public var name: String { (suitePath + [function]).joined(separator: "/") }

    /// A regular expression for `swift test --filter` that matches this test alone (and its
    /// argument cases): swift-testing matches it against "Target.Suite/function(labels:)".
    public var filterPattern: String {
        let suites = suitePath.map(Self.escaped).joined(separator: "/")
        let path = [Self.escaped(target) + (suites.isEmpty ? "" : "\\." + suites), Self.escaped(function)]
        return path.joined(separator: "/") + "\\("
    }

    private static func escaped(_ s: String) -> String {
        var out = ""
        for c in s {
            if "\\^$.|?*+()[]{}".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.file, a.line, a.function) < (b.file, b.line, b.function)
    }
}
