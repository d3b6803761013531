/// What an input device has done since it started, for logs and tests.
public struct InputStatistics: Sendable, Equatable {
    /// Events written into eventq buffers.
    public var eventsDelivered = 0
    /// Frames accepted by `inject` while the driver's eventq ran.
    public var framesQueued = 0
    /// Frames dropped (oldest first) because the backlog was full: the guest did not take its events.
    public var framesDropped = 0
    /// Frames dropped because no driver had the eventq running (before its DRIVER_OK, after a reset).
    public var framesWithoutDriver = 0
    /// Events the driver sent on the statusq (LEDs and the like), consumed and ignored.
    public var statusEvents = 0
    /// Buffers returned unused: too short, device-readable on the eventq, or not one event on the statusq.
    public var buffersRefused = 0

    public init() {}
}
