/// A stream's parameters after SET_PARAMS was checked against what the stream offers
/// (VIRTIO 1.2 §5.14.6.6.3): the frame format, the driver's buffer and period, the features.
public struct PCMParameters: Sendable, Equatable, CustomStringConvertible {
    public var format: PCMStreamFormat
    public var bufferBytes: Int
    public var periodBytes: Int
    public var features: PCMFeatures

    /// The largest buffer a driver may set: it bounds what the device holds of one stream (the
    /// queued transfers never exceed it). 1 MiB is 2.7 s of 48 kHz S32 stereo; Linux asks for
    /// at most 160 ms by default.
    public static let maxBufferBytes = 1 << 20
    /// The shortest period, in nanoseconds: the stream's clock wakes once per period.
    public static let minPeriodNanoseconds: UInt64 = 1_000_000

    public init(format: PCMStreamFormat, bufferBytes: Int, periodBytes: Int, features: PCMFeatures = []) {
        self.format = format
        self.bufferBytes = bufferBytes
        self.periodBytes = periodBytes
        self.features = features
    }

    /// The period's length in nanoseconds.
    public var periodNanoseconds: UInt64 { format.nanoseconds(forBytes: periodBytes) }
    public var periodFrames: Int { periodBytes / format.frameBytes }

    public var description: String {
        "\(format), buffer \(bufferBytes) bytes, period \(periodBytes) bytes (\(periodNanoseconds / 1000) µs)"
    }

    /// Checks a driver's request against a stream. BAD_MSG for what breaks the specification's
    /// rules (undefined values, a period that does not divide the buffer or is not whole frames,
    /// non-zero padding, both shared-memory features); NOT_SUPP for defined values this stream
    /// does not offer, or sizes beyond its bounds.
    public static func validate(_ request: PCMParameterRequest, for stream: SoundStreamDescription) throws(SoundStatus) -> PCMParameters {
        guard request.padding == 0, request.channels > 0 else { throw .badMessage }
        guard request.format <= PCMSampleFormat.highestDefined, request.rate <= PCMRate.highestDefined else { throw .badMessage }
        let features = PCMFeatures(rawValue: request.features)
        guard features.isSubset(of: .defined), !features.contains([.sharedMemoryHost, .sharedMemoryGuest]) else { throw .badMessage }
        guard let sample = PCMSampleFormat(rawValue: request.format), stream.formats.contains(sample),
              let rate = PCMRate(rawValue: request.rate), stream.rates.contains(rate),
              stream.channels.contains(Int(request.channels)), features.isSubset(of: stream.features) else {
            throw .notSupported
        }
        let format = PCMStreamFormat(sample: sample, rate: rate.hertz, channels: Int(request.channels))
        let buffer = Int(request.bufferBytes), period = Int(request.periodBytes)
        guard period > 0, buffer > 0, buffer % period == 0, period % format.frameBytes == 0 else { throw .badMessage }
        let parameters = PCMParameters(format: format, bufferBytes: buffer, periodBytes: period, features: features)
        guard buffer <= maxBufferBytes, parameters.periodNanoseconds >= minPeriodNanoseconds else { throw .notSupported }
        return parameters
    }
}
