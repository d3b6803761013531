/// How much of what a capture device holds each read takes. A guest's input stream reads one
/// period at a time on its own clock (the host's), while the card records on its crystal, and
/// many cards move their position a device period at a time. Reading exactly what is there
/// would give a short read (a gap of silence) whenever the two ticks fall badly; reading
/// whatever piled up would keep every delay forever (a stream stopped for a minute would
/// come back with the card's whole buffer of stale sound).
///
/// So a port keeps a `cushion` (one device period) in hand after each read:
/// - priming: after the start, and after any short read, it gives silence until the device
///   holds a read plus the cushion, then reads from there on;
/// - when more than a further read plus cushion piled up (the card runs faster than the
///   host clock, or the stream was stopped), the oldest excess is skipped, back to the cushion.
/// What stays behind after a read, the delay this adds, is about one cushion, and never more
/// than one read plus two cushions.
struct ALSACaptureBacklog: Sendable, Equatable {
    /// Frames left in the device after each read: its period, the unit its position moves by.
    let cushion: Int
    /// The device's buffer: no more than this is ever ready.
    let capacity: Int
    /// True until the device holds enough for a read plus the cushion.
    private(set) var priming = true

    init(cushion: Int, capacity: Int) {
        precondition(cushion >= 0 && capacity > 0)
        self.cushion = cushion
        self.capacity = capacity
    }

    /// What to do with `available` frames ready when `wanted` are asked for: how many of the
    /// oldest to skip, then how many to read (possibly fewer than wanted, or none).
    mutating func plan(available: Int, wanted: Int) -> (skip: Int, read: Int) {
        // A read larger than the device buffer cannot wait for a cushion on top.
        let target = min(wanted + cushion, capacity)
        if priming {
            guard available >= target else { return (0, 0) }
            priming = false
        }
        let excess = available - target
        let skip = excess > wanted + cushion ? excess : 0
        return (skip, min(wanted, available - skip))
    }

    /// What the read gave: a short one means the cushion is gone, so prime again.
    mutating func received(_ frames: Int, wanted: Int) {
        if frames < wanted { priming = true }
    }
}
