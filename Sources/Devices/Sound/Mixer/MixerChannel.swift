/// One stream's place in the mixer: its frames converted to the mix's format, waiting in a
/// ring, and what the mixer knows of it — its VM and role, whether it is still filling its
/// jitter margin, when the guest last gave it frames, the gain applied last period.
struct MixerChannel: Sendable {
    let tag: SoundStreamTag
    let role: AudioRole
    var ring: SampleRing
    /// Frames the ring must hold before the mixer takes from it (one guest period plus two of
    /// the mixer's: the two clocks tick at different moments).
    var threshold: Int
    var filling = true
    /// Where the mixer's timeline (frames mixed) was when the guest last gave frames (not
    /// silence for an underrun); nil: never.
    var lastFrames: Int?
    /// Frames of the last write: the stream counts as playing for two of them after it.
    var chunkFrames = 0
    var closed = false
    var gain: Float = 0
    var underruns = 0
    var droppedFrames = 0

    /// Whether the stream is playing for the ducking rules: frames from its guest arrived
    /// within the last two of its periods (at least a tenth of a second), or are still waiting
    /// to be heard. Measured on the mixer's timeline, so it is the same on any host load.
    func isPlaying(at timeline: Int, rate: Int) -> Bool {
        guard let lastFrames else { return false }
        return timeline - lastFrames <= max(rate / 10, 2 * chunkFrames) + ring.frames
    }
}
