/// What a VM's SCMI device has done.
public struct ScmiStatistics: Sendable, Equatable {
    public var commands = 0
    /// Commands answered with an error status.
    public var refused = 0
    /// Chains returned with nothing written (no room even for header and status, or no header).
    public var dropped = 0
    /// Notifications delivered on the eventq.
    public var notifications = 0
    /// Notifications lost because the driver had no eventq buffer (or too small a one).
    public var notificationsLost = 0
}
