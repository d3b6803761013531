/// Per-port counters of a switch, readable from any thread, written to the stats file.
public struct NetPortCounters: Sendable, Codable, Equatable {
    /// Frames the VM sent that the switch accepted / bytes.
    public var framesFromGuest = 0
    public var bytesFromGuest = 0
    /// Frames delivered to the VM / bytes.
    public var framesToGuest = 0
    public var bytesToGuest = 0
    /// Dropped: source MAC not permitted by the port's policy (AVPS-v2.0-14).
    public var droppedSourceMAC = 0
    /// Dropped: larger than the port's MTU allows.
    public var droppedOversize = 0
    /// Dropped: shorter than an Ethernet header, or a malformed descriptor chain.
    public var droppedMalformed = 0
    /// Dropped on the way in: this port's queue for the sender was full (the VM is not taking frames).
    public var droppedBacklog = 0
    /// Dropped: the VM's receive buffer was too small for the frame.
    public var droppedTooSmallBuffer = 0
    /// Frames and bytes waiting for the VM's receive buffers now, and the most bytes that ever
    /// waited: bounded per sender however long the VM does not take them.
    public var backlogFrames = 0
    public var backlogBytes = 0
    public var peakBacklogBytes = 0
    /// The source MAC the VM last used (learned by the switch).
    public var currentMAC: String = ""
}
