/// One change of a line's level, as the control socket's `watch` shows it.
public struct GpioLineChange: Codable, Sendable, Equatable {
    public var sequence: UInt64
    public var line: String
    public var value: Bool
    /// "host", or "vm NAME" for a guest's output.
    public var origin: String
    /// CLOCK_MONOTONIC, nanoseconds.
    public var nanoseconds: UInt64
}

/// Changes after a sequence number, the number to ask after next, and how many the history lost.
public struct GpioChanges: Codable, Sendable, Equatable {
    public var changes: [GpioLineChange]
    public var next: UInt64
    public var lost: Int
}

/// A line as the control socket lists it.
public struct GpioLineStatus: Codable, Sendable, Equatable {
    public var name: String
    public var value: Bool
    /// The VM driving it as an output, if any.
    public var drivenBy: String?

    public init(name: String, value: Bool, drivenBy: String? = nil) {
        self.name = name
        self.value = value
        self.drivenBy = drivenBy
    }
}
