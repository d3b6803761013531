import Synchronization
import SystemCalls
import Virtio

/// Back-end state of one virtqueue as the front end configures it
/// (SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE), and the notifier its
/// `DeviceQueue` uses. Started when it has a kick descriptor and a valid layout;
/// stopped by GET_VRING_BASE (vhost-user.rst, "Ring states").
final class Vring: QueueNotifier, @unchecked Sendable {
    let index: Int
    var size: UInt32 = 0
    var address: VringAddress?
    /// Where the device starts taking available entries (SET_VRING_BASE).
    var base: UInt16 = 0
    var kick: EventFD?
    var enabled = false
    /// Present while the ring is started.
    var queue: DeviceQueue?
    // The call and error descriptors may be replaced while a queue thread signals them.
    private let call = Mutex<EventFD?>(nil)
    private let error = Mutex<EventFD?>(nil)
    /// The server loop's ring, which writes the call eventfd with its next submission (on the
    /// loop's thread; any other thread writes it directly). Set before the server starts.
    private let callWrites: EventLoopRing?

    init(index: Int, callWrites: EventLoopRing? = nil) {
        self.index = index
        self.callWrites = callWrites
    }

    var isStarted: Bool { queue != nil }

    /// A write still queued on the ring must reach the old descriptor before it closes.
    func setCall(_ fd: EventFD?) {
        try? callWrites?.flush()
        call.withLock { $0 = fd }
    }
    func setError(_ fd: EventFD?) { error.withLock { $0 = fd } }

    func signalUsed() {
        call.withLock { fd in
            guard let fd else { return }
            if callWrites?.signal(eventFD: fd.rawValue) != true { fd.signal() }
        }
    }
    func signalError() { error.withLock { $0?.signal() } }

    /// Back to the state of a freshly created ring; descriptors are closed.
    func reset() {
        size = 0
        address = nil
        base = 0
        kick = nil
        enabled = false
        queue = nil
        setCall(nil)
        setError(nil)
    }
}
