import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// A driver-side queue wired to a vhost-user back end: the ring in shared memory
/// plus the kick and call eventfds a VMM would hold.
public final class DriverQueue: @unchecked Sendable {
    public let index: Int
    public let ring: DriverRing
    public let kickEvent: EventFD
    public let callEvent: EventFD

    init(index: Int, ring: DriverRing) throws {
        self.index = index
        self.ring = ring
        kickEvent = try EventFD()
        callEvent = try EventFD()
    }

    public func kick() { kickEvent.signal() }

    /// Waits (on the call eventfd, then polling) until `count` used entries arrived or the timeout passed.
    public func waitForUsed(count: Int = 1, timeoutMilliseconds: Int = 5000) throws -> [DriverRing.UsedElement] {
        var out = try ring.collectUsed()
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while out.count < count {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { break }
            _ = callEvent.wait(timeoutMilliseconds: Int32(min(50, (deadline - now) / 1_000_000 + 1)))
            out += try ring.collectUsed()
        }
        return out
    }
}
