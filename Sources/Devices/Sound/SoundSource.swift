/// Where input streams record from on the host: a test tone (`TestToneSource`), silence, or a
/// microphone (`ALSASource`). Like a sink, it hands each stream a port in that stream's format.
public protocol SoundSource: AnyObject, Sendable {
    func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSourcePort
}

/// One stream's way out of a source. Called from the stream's clock thread only.
public protocol SoundSourcePort: AnyObject, Sendable {
    /// Fills `frames` (whole frames of the port's format) with the next frames captured.
    func read(into frames: UnsafeMutableRawBufferPointer) throws(SoundHostError)
    func close()
}

/// A source of digital silence.
public final class SilenceSource: SoundSource, SoundSourcePort {
    public init() {}
    public func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSourcePort { self }
    public func read(into frames: UnsafeMutableRawBufferPointer) throws(SoundHostError) {
        if let base = frames.baseAddress { base.initializeMemory(as: UInt8.self, repeating: 0, count: frames.count) }
    }
    public func close() {}
}
