/// How far a probe may go.
public struct ProbeOptions: Sendable, Equatable {
    /// Data-changing requests: the block probe writes a pattern over the first sectors of the
    /// export and DISCARDs them, then writes their old content back. Without it the only write
    /// puts back the bytes just read from sector 0, and DISCARD is not tried.
    public var allowWrites: Bool
    /// How long one request may take before the probe calls it unanswered.
    public var requestTimeoutMilliseconds: Int
    /// Seconds to keep retrying the connection while the back end starts.
    public var connectTimeoutSeconds: Double

    public init(allowWrites: Bool = false, requestTimeoutMilliseconds: Int = 5000, connectTimeoutSeconds: Double = 5) {
        self.allowWrites = allowWrites
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}
