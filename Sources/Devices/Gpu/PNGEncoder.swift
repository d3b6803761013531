/// Writes frames as PNG files (ISO/IEC 15948) a person can open: 8-bit RGB, no
/// interlace, filter 0, and the zlib stream made of stored (uncompressed) deflate
/// blocks, so no compression library is needed. A 1920×1080 frame is about 6 MiB.
public enum PNGEncoder {
    /// `pixels`: B, G, R, X bytes per pixel (`ScanoutFrame`'s layout), rows `width * 4` apart.
    public static func encode(width: Int, height: Int, bgrx pixels: [UInt8]) -> [UInt8] {
        precondition(width > 0 && height > 0 && pixels.count >= width * height * 4)
        // Scanlines: a filter byte (0), then R, G, B per pixel.
        var raw = [UInt8](repeating: 0, count: height * (1 + width * 3))
        raw.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { source in
                var o = 0
                for y in 0..<height {
                    out[o] = 0
                    o += 1
                    var s = y * width * 4
                    for _ in 0..<width {
                        out[o] = source[s + 2]; out[o + 1] = source[s + 1]; out[o + 2] = source[s]
                        o += 3
                        s += 4
                    }
                }
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]   // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
        chunk("IHDR", header, into: &png)
        chunk("IDAT", zlibStored(raw), into: &png)
        chunk("IEND", [], into: &png)
        return png
    }

    /// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4), at most 65535 bytes each.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        out.reserveCapacity(data.count + data.count / 65535 * 5 + 16)
        var offset = 0
        repeat {
            let count = min(65535, data.count - offset)
            let final: UInt8 = offset + count == data.count ? 1 : 0
            out += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            out += data[offset..<offset + count]
            offset += count
        } while offset < data.count
        return out + bigEndian(adler32(data))
    }

    static func chunk(_ type: String, _ data: [UInt8], into png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        png += bigEndian(UInt32(data.count)) + typeBytes + data
        png += bigEndian(crc32(typeBytes + data))
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = 0
        while i < data.count {
            // 5552 bytes keep b below 2^32 before the modulo (zlib's NMAX).
            let end = min(i + 5552, data.count)
            while i < end {
                a &+= UInt32(data[i])
                b &+= a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }

    static func crc32(_ data: [UInt8]) -> UInt32 { CRC32.checksum(data) }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
}
