/// A host output the mixer plays into: a WAV file (`WAVFileOutput`), an ALSA device
/// (`ALSAOutput`), or nothing. The mixer hands it whole periods in its `format`.
///
/// Who keeps time: a file or nothing takes frames at once, so the mixer's own clock paces it;
/// a sound card plays at its own rate, so the mixer writes as the card takes (its writes
/// block until there is room) and the card's clock is the platform's.
public protocol SoundOutput: AnyObject, Sendable {
    /// The format the mix is made in and handed over (the mixer converts every stream to it).
    var format: PCMStreamFormat { get }
    /// True if `write` blocks until the output has room (a sound card): the output is the clock.
    var keepsTime: Bool { get }
    /// One period of mixed frames (whole frames of `format`). Called from the mixer's thread only.
    func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError)
    /// Frames written but not yet heard (added to each stream's reported latency).
    var delayFrames: Int { get }
    /// Flushes and closes; later writes fail with `.closed`.
    func close()
}

/// An output that drops the mix at the mixer's pace: playback with nowhere to go.
public final class NullOutput: SoundOutput {
    public let format: PCMStreamFormat
    public init(format: PCMStreamFormat) { self.format = format }
    public var keepsTime: Bool { false }
    public func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) {}
    public var delayFrames: Int { 0 }
    public func close() {}
}
