/// Why `avp conformance` cannot give its answer.
public enum ConformanceError: Error, Equatable, CustomStringConvertible {
    /// No Tests folder where it was looked for.
    case noTestsDirectory(looked: [String])
    case cannotRead(String, String)
    /// `swift test` could not be started.
    case cannotRunTests(String)

    public var description: String {
        switch self {
        case let .noTestsDirectory(looked):
            "no Tests folder to read the test names from (looked in \(looked.joined(separator: ", "))); run avp conformance in the AVP package or give --tests DIR"
        case let .cannotRead(path, reason): "cannot read \(path): \(reason)"
        case let .cannotRunTests(reason): "cannot run the tests: \(reason)"
        }
    }
}
