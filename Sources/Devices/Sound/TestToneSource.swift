#if canImport(Glibc)
import Glibc
#endif

/// A sine wave of a fixed frequency on every channel, at half of full scale (−6 dBFS): what an
/// input stream records when the host has no microphone, and what tests measure. Each stream's
/// port keeps its own phase, generated in that stream's format and rate (no conversion).
public final class TestToneSource: SoundSource {
    public let frequency: Double
    public let amplitude: Double
    /// Frequencies a tone may have: audible, and below every offered rate's Nyquist limit.
    public static let frequencies = 20.0...3_999.0

    public init(frequency: Double, amplitude: Double = 0.5) {
        precondition(Self.frequencies.contains(frequency) && (0...1).contains(amplitude))
        self.frequency = frequency
        self.amplitude = amplitude
    }

    public func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSourcePort {
        Port(format: format, step: frequency / Double(format.rate), amplitude: amplitude)
    }

    private final class Port: SoundSourcePort, @unchecked Sendable {
        let format: PCMStreamFormat
        let step: Double
        let amplitude: Double
        /// Cycles completed so far, modulo 1; used only from the stream's clock thread.
        var phase = 0.0

        init(format: PCMStreamFormat, step: Double, amplitude: Double) {
            self.format = format
            self.step = step
            self.amplitude = amplitude
        }

        func read(into frames: UnsafeMutableRawBufferPointer) throws(SoundHostError) {
            let count = frames.count / format.frameBytes
            let width = format.sample.bytesPerSample
            for f in 0..<count {
                let x = amplitude * sin(2 * Double.pi * phase)
                phase += step
                if phase >= 1 { phase -= 1 }
                for c in 0..<format.channels {
                    let offset = (f * format.channels + c) * width
                    switch format.sample {
                    case .s16: frames.storeBytes(of: Int16((x * 32767).rounded()).littleEndian, toByteOffset: offset, as: Int16.self)
                    case .s32: frames.storeBytes(of: Int32((x * 2_147_483_647).rounded()).littleEndian, toByteOffset: offset, as: Int32.self)
                    case .float: frames.storeBytes(of: Float(x).bitPattern.littleEndian, toByteOffset: offset, as: UInt32.self)
                    }
                }
            }
        }

        func close() {}
    }
}
