/// Decides which occurrences of a repeated event get a log line: the first few, then
/// every power of two. A guest (or a front end) can repeat a mistake millions of times;
/// the log must show that it happens and how often, without growing with it.
public struct LogSampler: Sendable {
    public private(set) var count = 0
    private let always: Int

    public init(always: Int = 8) { self.always = always }

    /// Counts one occurrence; true if this one should be logged.
    public mutating func record() -> Bool {
        count += 1
        return count <= always || count & (count - 1) == 0
    }
}
