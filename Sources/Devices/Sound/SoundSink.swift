/// Where output streams play on the host: the host's mixer (`SoundMixer`), which takes the
/// streams of every VM, or a test's recorder. A sink never assumes one stream: each stream
/// connects a port of its own when it is prepared, in the stream's own format, and the sink
/// converts or mixes as it must.
public protocol SoundSink: AnyObject, Sendable {
    /// A port for one stream of `format`; throws if the sink cannot take it.
    func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSinkPort
}

/// One stream's way into a sink. Called from the stream's clock thread only, in time order.
public protocol SoundSinkPort: AnyObject, Sendable {
    /// Frames the guest played this period, in the port's format (whole frames).
    func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError)
    /// A period passed without frames from the guest (an underrun) of this many frames: a
    /// real-time sink plays silence; a recording leaves nothing out of what was played.
    func gap(frames: Int)
    /// Bytes of the port's format written but not yet heard (reported to the guest as latency).
    var latencyBytes: Int { get }
    /// The stream is released; the port is not used again.
    func close()
}
