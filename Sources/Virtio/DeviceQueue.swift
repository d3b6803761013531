import GuestMemory
import Logging

/// A started virtqueue as a device sees it: take requests, complete them, and let
/// the queue decide about interrupts. Guest mistakes are handled here once for
/// every device: a malformed chain is logged and returned with nothing written;
/// a broken ring stops this queue only (the transport is told, other queues go on).
public final class DeviceQueue: @unchecked Sendable {
    public let index: Int
    public let ring: SplitQueue
    private let notifier: QueueNotifier
    private let logger: Logger
    /// Used entries added since the last interrupt decision.
    private var unsignalled = false
    /// The ring faulted; nothing more is taken from it until it is set up again.
    public private(set) var isBroken = false
    private var malformedSampler = LogSampler()
    /// Requests refused because their chain was malformed.
    public var malformedChains: Int { malformedSampler.count }

    public init(index: Int, ring: SplitQueue, notifier: QueueNotifier, logger: Logger) {
        self.index = index
        self.ring = ring
        self.notifier = notifier
        self.logger = logger
    }

    /// The next well-formed request, or nil when the queue is empty or broken.
    public func pop() -> DescriptorChain? {
        while !isBroken {
            let head: UInt16?
            do { head = try ring.popHead() } catch {
                fail(error)
                return nil
            }
            guard let head else { return nil }
            do {
                return try ring.chain(at: head)
            } catch {
                if malformedSampler.record() {
                    logger.warning("queue \(index): request \(head) refused (\(malformedChains) so far): \(error)")
                }
                complete(head: head, written: 0)
            }
        }
        return nil
    }

    /// Whether the driver has buffers available, without taking one (for devices that
    /// must not take a buffer they may have nothing to put in).
    public var hasAvailable: Bool {
        guard !isBroken else { return false }
        return ((try? ring.pendingCount()) ?? 0) > 0
    }

    /// Returns a finished request to the driver with `written` bytes of device-writable data.
    public func complete(head: UInt16, written: UInt32) {
        ring.addUsed(head: head, length: written)
        unsignalled = true
    }

    public func complete(_ chain: DescriptorChain, written: Int) {
        complete(head: chain.head, written: UInt32(clamping: written))
    }

    /// Interrupts the driver if it asked for one (notification suppression, §2.7.7 and §2.7.10).
    public func notifyIfNeeded() {
        guard unsignalled else { return }
        unsignalled = false
        if ring.needsNotification() { notifier.signalUsed() }
    }

    /// For synchronous devices: handles every available request with `handler` (which
    /// returns the bytes it wrote), re-arms notifications, and interrupts once at the end.
    public func drain(_ handler: (DescriptorChain) -> Int) {
        repeat {
            while let chain = pop() {
                complete(chain, written: handler(chain))
            }
        } while rearm()
        notifyIfNeeded()
    }

    /// Re-enables kicks; true if more requests arrived in the meantime (never for a broken
    /// queue, whose pending requests will not be taken: callers loop on this).
    public func rearm() -> Bool {
        guard !isBroken else { return false }
        do { return try ring.enableNotifications() } catch {
            fail(error)
            return false
        }
    }

    /// Stops the queue after a ring-level fault (§2.1.2: the device needs a reset).
    public func fail(_ error: QueueError) {
        guard !isBroken else { return }
        isBroken = true
        logger.error("queue \(index) stopped, device needs reset: \(error)")
        notifyIfNeeded()
        notifier.signalError()
    }
}
