import Devices
import Testing

/// Found by `fuzz/run host`: a WAV file declaring a format whose byte rate (or block align) does not
/// fit its own 32-bit (16-bit) header field parsed, and writing that format's header back trapped.
@Suite struct WAVHeaderOverflow {
    /// A 44-byte file: PCM `bits` per sample, `channels` at `rate`, 8 bytes of data.
    private func file(rate: UInt32, channels: UInt16, bits: UInt16 = 16) -> [UInt8] {
        var w: [UInt8] = []
        func u32(_ v: UInt32) { w += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        func u16(_ v: UInt16) { w += [UInt8(truncatingIfNeeded: v), UInt8(v >> 8)] }
        w += Array("RIFF".utf8); u32(44); w += Array("WAVEfmt ".utf8); u32(16)
        u16(1); u16(channels); u32(rate); u32(0); u16(0); u16(bits)
        w += Array("data".utf8); u32(8); w += [UInt8](repeating: 0, count: 8)
        return w
    }

    @Test func aByteRateBeyondThirtyTwoBitsIsRefused() {
        #expect(throws: WAVHeader.ParseError.unsupportedFormat(tag: 1, bits: 16)) { _ = try WAVHeader.parse(file(rate: 0xFFFE_BB00, channels: 2)) }
        #expect(throws: WAVHeader.ParseError.unsupportedFormat(tag: 1, bits: 32)) { _ = try WAVHeader.parse(file(rate: 8000, channels: 65535, bits: 32)) }
    }

    @Test func whatParsesWritesItsHeaderBack() throws {
        let (format, _) = try WAVHeader.parse(file(rate: 48000, channels: 2))
        #expect(format == PCMStreamFormat(sample: .s16, rate: 48000, channels: 2))
        #expect(try WAVHeader.parse(WAVHeader(format: format, dataBytes: 0).bytes).format == format)
    }
}
