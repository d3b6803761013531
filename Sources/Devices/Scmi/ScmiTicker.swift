import Synchronization
import SystemCalls

/// Wakes a device's server thread every `periodMilliseconds` while `active`: the clock of the
/// continuous sensor updates. A small OS thread that signals an eventfd (the device's loop does
/// the work); while nothing notifies it only sleeps, ten times longer.
final class ScmiTicker: Sendable {
    static let periodMilliseconds = 10
    /// While nothing notifies: how often the thread looks again (the first update of a sensor
    /// whose notifications were just enabled may come this much late).
    static let idleMilliseconds = 100

    let event: EventFD
    private let active = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    init() throws {
        event = try EventFD()
        let event = self.event
        let state = Box(active: self)
        thread.withLock { t in
            t = try? OSThread(name: "avp-scmi-tick") {
                while let ticker = state.ticker, !ticker.stopped.load(ordering: .acquiring) {
                    let on = ticker.active.load(ordering: .relaxed)
                    MonotonicClock.sleep(milliseconds: on ? Self.periodMilliseconds : Self.idleMilliseconds)
                    if on { event.signal() }
                }
            }
        }
    }

    /// Whether the device has notifications to send (set from the server thread).
    func set(active on: Bool) { active.store(on, ordering: .relaxed) }

    func stop() {
        stopped.store(true, ordering: .releasing)
        let t = thread.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }
        t?.join()
    }

    deinit { stopped.store(true, ordering: .releasing) }

    private final class Box: @unchecked Sendable {
        weak var ticker: ScmiTicker?
        init(active ticker: ScmiTicker) { self.ticker = ticker }
    }
}
