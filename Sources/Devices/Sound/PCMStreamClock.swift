import SystemCalls

/// The real-time clock of one running stream: a dedicated OS thread that calls `tick` once per
/// period, at `start + k × period` for k = 1, 2, … (period k−1's frames have then been played
/// or recorded). Deadlines come from CLOCK_MONOTONIC and the period's exact frame count, so
/// the stream keeps the negotiated rate over any length without drift; a late wake-up is
/// caught up tick by tick, unless the thread was held for more than `maxCatchUp` periods (a
/// suspended host), after which the clock starts again from now.
final class PCMStreamClock: @unchecked Sendable {
    /// Periods the clock catches up at most after a late wake-up.
    static let maxCatchUp: UInt64 = 8

    private let stopEvent: EventFD
    private var thread: OSThread?

    /// Starts ticking now; `tick` runs on the clock's thread.
    init(name: String, periodFrames: Int, rate: Int, tick: @escaping @Sendable () -> Void) throws(Errno) {
        precondition(periodFrames > 0 && rate > 0)
        let stop = try EventFD()
        stopEvent = stop
        let frames = UInt64(periodFrames), hertz = UInt64(rate)
        thread = try OSThread(name: name) {
            var origin = MonotonicClock.nanoseconds()
            var k: UInt64 = 1
            /// When period `k` ends: exact in frames, so rounding never accumulates.
            func deadline(_ k: UInt64) -> UInt64 {
                let total = k * frames
                return origin + total / hertz * 1_000_000_000 + total % hertz * 1_000_000_000 / hertz
            }
            while true {
                let now = MonotonicClock.nanoseconds()
                let due = deadline(k)
                if now < due {
                    // Round the wait up to whole milliseconds: poll(2) wakes no earlier than asked.
                    let waitMilliseconds = Int32(min(1000, (due - now + 999_999) / 1_000_000))
                    if stop.wait(timeoutMilliseconds: waitMilliseconds) != nil { return }
                    continue
                }
                if now - due > Self.maxCatchUp * (deadline(k + 1) - due) {
                    origin = now
                    k = 1
                    continue
                }
                tick()
                k += 1
            }
        }
    }

    /// Stops the thread and waits for it: once this returns, `tick` is not running and will not run.
    func stop() {
        stopEvent.signal()
        thread?.join()
        thread = nil
    }

    deinit { stop() }
}
