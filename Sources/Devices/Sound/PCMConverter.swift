/// Converts a stream's frames to another format: sample format, channel count (mono is
/// copied to both sides, stereo is averaged to mono) and rate (linear interpolation). When
/// nothing differs the bytes pass unchanged, so a recording is bit-exact. Keeps the
/// resampler's position between calls: one converter per stream, fed in order.
struct PCMConverter: Sendable {
    let input: PCMStreamFormat
    let output: PCMStreamFormat
    /// Input frames per output frame.
    private let step: Double
    /// Where the next output frame lies, in input frames after `previous` (index 0).
    private var position = 1.0
    /// The last input frame of the previous call (in output channels).
    private var previous: [Float]

    init(from input: PCMStreamFormat, to output: PCMStreamFormat) {
        self.input = input
        self.output = output
        step = Double(input.rate) / Double(output.rate)
        previous = [Float](repeating: 0, count: output.channels)
    }

    /// The largest magnitude a float sample keeps (16 is +24 dBFS): beyond full scale, so a guest's
    /// hot signal still clips audibly, yet far from where sums of a few streams could overflow.
    static let maxFloatSample: Float = 16

    /// `bytes` (whole input frames) in the output format.
    mutating func convert(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Self.encode(samples(bytes), as: output.sample)
    }

    /// `bytes` (whole input frames) as samples of the output's rate and channels, full scale ±1
    /// (what the mixer adds up). S16 and the output's own rate and channels convert exactly.
    mutating func samples(_ bytes: UnsafeRawBufferPointer) -> [Float] {
        let frames = remix(decode(bytes))
        return input.rate == output.rate ? frames : resample(frames)
    }

    private func decode(_ bytes: UnsafeRawBufferPointer) -> [Float] {
        let samples = bytes.count / input.sample.bytesPerSample
        var out = [Float](repeating: 0, count: samples)
        for i in 0..<samples {
            switch input.sample {
            case .s16: out[i] = Float(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) / 32768
            case .s32: out[i] = Float(Double(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) / 2_147_483_648)
            case .float:
                // A guest's NaN becomes silence and its infinities and huge values ±maxFloatSample:
                // the mixer multiplies and adds them (∞ × 0 and ∞ − ∞ are NaN), then converts to integers.
                let x = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                out[i] = x.isNaN ? 0 : max(-Self.maxFloatSample, min(Self.maxFloatSample, x))
            }
        }
        return out
    }

    /// Interleaved samples in input channels → interleaved samples in output channels.
    private func remix(_ samples: [Float]) -> [Float] {
        let inChannels = input.channels, outChannels = output.channels
        guard inChannels != outChannels else { return samples }
        let frames = samples.count / inChannels
        var out = [Float](repeating: 0, count: frames * outChannels)
        for f in 0..<frames {
            let frame = samples[f * inChannels..<(f + 1) * inChannels]
            if inChannels == 1 {
                for c in 0..<outChannels { out[f * outChannels + c] = frame.first! }
            } else if outChannels == 1 {
                out[f] = frame.reduce(0, +) / Float(inChannels)
            } else {
                for c in 0..<outChannels { out[f * outChannels + c] = frame[frame.startIndex + min(c, inChannels - 1)] }
            }
        }
        return out
    }

    /// Linear interpolation between consecutive frames, continuing from the last call.
    private mutating func resample(_ samples: [Float]) -> [Float] {
        let channels = output.channels
        let frames = samples.count / channels
        guard frames > 0 else { return [] }
        func sample(_ frame: Int, _ channel: Int) -> Float {
            frame == 0 ? previous[channel] : samples[(frame - 1) * channels + channel]
        }
        var out: [Float] = []
        out.reserveCapacity((Int(Double(frames) / step) + 2) * channels)
        while position <= Double(frames) {
            let i = Int(position), fraction = Float(position - Double(i))
            for c in 0..<channels {
                let a = sample(i, c)
                out.append(i < frames ? a + (sample(i + 1, c) - a) * fraction : a)
            }
            position += step
        }
        position -= Double(frames)
        for c in 0..<channels { previous[c] = samples[(frames - 1) * channels + c] }
        return out
    }

    /// Samples (full scale ±1, clipped beyond it) in `format`'s little-endian encoding.
    static func encode(_ samples: [Float], as format: PCMSampleFormat) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: samples.count * format.bytesPerSample)
        out.withUnsafeMutableBytes { buffer in
            samples.withUnsafeBufferPointer { input in
                // One loop per format: the mixer encodes every period of the host's output.
                switch format {
                // `max(min(x))` with NaN is not ordered: integers come only from numbers (NaN is 0).
                case .s16:
                    for (i, x) in input.enumerated() where !x.isNaN {
                        let v = Int16(max(-32768, min(32767, (Double(x) * 32768).rounded())))
                        buffer.storeBytes(of: v.littleEndian, toByteOffset: 2 * i, as: Int16.self)
                    }
                case .s32:
                    for (i, x) in input.enumerated() where !x.isNaN {
                        let v = Int32(max(-2_147_483_648, min(2_147_483_647, (Double(x) * 2_147_483_648).rounded())))
                        buffer.storeBytes(of: v.littleEndian, toByteOffset: 4 * i, as: Int32.self)
                    }
                case .float:
                    for (i, x) in input.enumerated() {
                        buffer.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                }
            }
        }
        return out
    }
}
