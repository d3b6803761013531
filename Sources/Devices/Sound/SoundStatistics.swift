/// What a sound device has done since it started, for logs and tests.
public struct SoundStatistics: Sendable, Equatable {
    /// Control requests answered, and those answered with an error status.
    public var controlRequests = 0
    public var refusedRequests = 0
    /// I/O messages taken by a stream, and those answered IO_ERR at once.
    public var transfers = 0
    public var refusedTransfers = 0
    /// Notifications written into eventq buffers, and those dropped (the driver gave no buffers).
    public var events = 0
    public var eventsDropped = 0
    /// From a message's arrival to its completion, for messages completed OK.
    public var latency = LatencyHistogram()
    /// Each stream's counters, by stream ID.
    public var streams: [SoundStreamCounters] = []

    public init() {}

    /// Counters of all streams of `direction` in `topology`, added up.
    public func total(_ direction: SoundDirection, in topology: SoundTopology) -> SoundStreamCounters {
        var sum = SoundStreamCounters()
        for (i, c) in streams.enumerated() where i < topology.streams.count && topology.streams[i].direction == direction {
            sum.periods += c.periods
            sum.bytes += c.bytes
            sum.starvedPeriods += c.starvedPeriods
            sum.xruns += c.xruns
            sum.hostErrors += c.hostErrors
        }
        return sum
    }
}
