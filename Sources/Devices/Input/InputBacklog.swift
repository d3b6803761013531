/// Frames of input events waiting for the driver's eventq buffers, oldest first. Bounded in
/// events: a guest that stops taking events costs the host a fixed amount of memory, and
/// what it missed is dropped whole frames at a time from the oldest end, so the driver never
/// sees half a frame (a frame is the events up to and including SYN_REPORT).
struct InputBacklog: Sendable {
    /// Events held at most.
    let limit: Int
    private var frames: [[InputEvent]] = []
    private var first = 0
    /// Events held now.
    private(set) var count = 0

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    var isEmpty: Bool { count == 0 }
    var frameCount: Int { frames.count - first }

    /// Adds a frame (at most `limit` events), dropping the oldest frames it does not fit
    /// beside; returns how many were dropped.
    mutating func append(_ frame: [InputEvent]) -> Int {
        precondition(!frame.isEmpty && frame.count <= limit)
        var dropped = 0
        while count + frame.count > limit, takeFrame() != nil { dropped += 1 }
        frames.append(frame)
        count += frame.count
        return dropped
    }

    /// The oldest frame, removed.
    mutating func takeFrame() -> [InputEvent]? {
        guard first < frames.count else { return nil }
        let frame = frames[first]
        frames[first] = []
        first += 1
        count -= frame.count
        // Reclaim the taken slots once they are half the array (amortised O(1) per frame).
        if first > 32, first * 2 > frames.count {
            frames.removeFirst(first)
            first = 0
        }
        return frame
    }

    mutating func removeAll() {
        frames = []
        first = 0
        count = 0
    }
}
