#if canImport(Glibc)
import Glibc
#endif
import SystemCalls
import Virtio

/// Adaptive polling, off by default: after the loop served a kick or a completion, it keeps
/// looking at the started queues' available rings for a bounded window before it sleeps, and
/// serves what arrives without waiting for the kick's wake-up. The window restarts with each
/// request found. It spends CPU while it looks; `bench/block` reports it apart
/// (`AVP_POLL_MICROSECONDS`).
struct AvailablePolling {
    /// The window in seconds; 0: off.
    let window: Double

    /// Longest window: a second.
    static let maximumMicroseconds = 1_000_000

    /// `microseconds`, else `AVP_POLL_MICROSECONDS`, clamped to 0...`maximumMicroseconds`; unset: off.
    init(microseconds: Int?) {
        let fromEnvironment = getenv("AVP_POLL_MICROSECONDS").flatMap { Int(String(cString: $0)) }
        let us = min(max(microseconds ?? fromEnvironment ?? 0, 0), Self.maximumMicroseconds)
        window = Double(us) / 1_000_000
    }

    var isOn: Bool { window > 0 }

    /// Polls `backend`'s started, enabled queues until the window passes without a request or
    /// `stop` says other work is waiting; serves each queue that has requests.
    func run(_ backend: VhostUserBackend, stop: () -> Bool) {
        var deadline = MonotonicClock.seconds() + window
        while !stop() {
            var found = false
            for ring in backend.vrings where ring.enabled {
                guard let queue = ring.queue, queue.hasAvailable else { continue }
                backend.kick(queue: ring.index)
                found = true
            }
            let now = MonotonicClock.seconds()
            if found { deadline = now + window } else if now >= deadline { return }
        }
    }
}
