/// The canonical 44-byte header of a RIFF WAVE file: one `fmt ` chunk (PCM, or IEEE float for
/// FLOAT_LE) and the `data` chunk right after it, its size last.
public struct WAVHeader: Sendable, Equatable {
    public var format: PCMStreamFormat
    /// Bytes of sample data after the header.
    public var dataBytes: UInt32

    public static let size = 44
    /// The most sample data a RIFF file can describe (its sizes are 32-bit).
    public static let maxDataBytes = Int(UInt32.max) - size

    public init(format: PCMStreamFormat, dataBytes: UInt32) {
        self.format = format
        self.dataBytes = dataBytes
    }

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(Self.tag("RIFF"))
        w.write(UInt32(36) &+ dataBytes)
        w.write(Self.tag("WAVE"))
        w.write(Self.tag("fmt "))
        w.write(UInt32(16))
        w.write(UInt16(format.sample == .float ? 3 : 1))
        w.write(UInt16(format.channels))
        w.write(UInt32(format.rate))
        w.write(UInt32(format.bytesPerSecond))
        w.write(UInt16(format.frameBytes))
        w.write(UInt16(format.sample.bytesPerSample * 8))
        w.write(Self.tag("data"))
        w.write(dataBytes)
        return w.bytes
    }

    /// Why a file is not a WAV file this code reads.
    public enum ParseError: Error, Sendable, Equatable {
        case notRIFFWave
        case noFormatChunk
        case unsupportedFormat(tag: UInt16, bits: UInt16)
        case noDataChunk
    }

    /// Reads a WAV file's format and where its samples are: walks the chunks, so files with
    /// other chunks (LIST, fact) before `data` read too. The `data` chunk is taken to run to the
    /// end of the file (whole frames), whatever its size says: a recording whose header lags
    /// behind its samples (`WAVFileOutput` after a crash) reads whole. Not for files with chunks
    /// after `data`.
    public static func parse(_ file: [UInt8]) throws(ParseError) -> (format: PCMStreamFormat, data: ArraySlice<UInt8>) {
        func u32(_ at: Int) -> UInt32? {
            guard at >= 0, at + 4 <= file.count else { return nil }
            return (0..<4).reduce(UInt32(0)) { $0 | UInt32(file[at + $1]) << (8 * $1) }
        }
        func u16(_ at: Int) -> UInt16? { u32(at - 2).map { UInt16($0 >> 16) } }
        guard u32(0) == tag("RIFF"), u32(8) == tag("WAVE") else { throw .notRIFFWave }
        var format: PCMStreamFormat?
        var offset = 12
        while let id = u32(offset), let length = u32(offset + 4).map(Int.init) {
            let start = offset + 8
            if id == tag("fmt ") {
                guard length >= 16, let formatTag = u16(start), let channels = u16(start + 2), let rate = u32(start + 4),
                      let bits = u16(start + 14) else { throw .noFormatChunk }
                let sample: PCMSampleFormat? = switch (formatTag, bits) {
                case (1, 16): .s16
                case (1, 32): .s32
                case (3, 32): .float
                default: nil
                }
                // A format whose byte rate or block align overflows its own header field (4 GHz
                // stereo, 65535 channels of 32-bit samples) is no format a WAV file can carry.
                guard let sample, channels > 0, rate > 0, Int(channels) * sample.bytesPerSample <= Int(UInt16.max),
                      Int(rate) * Int(channels) * sample.bytesPerSample <= Int(UInt32.max) else {
                    throw .unsupportedFormat(tag: formatTag, bits: bits)
                }
                format = PCMStreamFormat(sample: sample, rate: Int(rate), channels: Int(channels))
            } else if id == tag("data") {
                guard let format else { throw .noFormatChunk }
                let whole = start + (file.count - start) / format.frameBytes * format.frameBytes
                return (format, file[start..<whole])
            }
            offset = start + length + (length & 1)
        }
        throw format == nil ? .noFormatChunk : .noDataChunk
    }

    static func tag(_ text: String) -> UInt32 {
        text.utf8.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}
