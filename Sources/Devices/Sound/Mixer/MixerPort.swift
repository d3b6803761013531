/// One stream's port into the mixer: converts each period the stream plays to the mix's
/// format on the stream's clock thread, then hands it over. An underrun of the guest becomes
/// silence of the same length, so the stream keeps its place in time.
final class MixerPort: SoundSinkPort, @unchecked Sendable {
    private let mixer: SoundMixer
    private let channel: Int
    /// Used only from the stream's clock thread.
    private var converter: PCMConverter
    private var closed = false

    init(mixer: SoundMixer, channel: Int, converter: PCMConverter) {
        self.mixer = mixer
        self.channel = channel
        self.converter = converter
    }

    func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) {
        guard !closed else { throw .closed }
        let samples = converter.samples(frames)
        mixer.append(samples, to: channel, fromGuest: true, chunkFrames: samples.count / converter.output.channels)
    }

    func gap(frames: Int) {
        guard !closed else { return }
        mixer.append([], to: channel, fromGuest: false, chunkFrames: outputFrames(frames))
    }

    var latencyBytes: Int {
        let frames = mixer.delayFrames(of: channel)
        return frames * converter.input.rate / converter.output.rate * converter.input.frameBytes
    }

    func close() {
        guard !closed else { return }
        closed = true
        mixer.close(channel)
    }

    private func outputFrames(_ inputFrames: Int) -> Int {
        inputFrames * converter.output.rate / converter.input.rate
    }
}
