import Foundation

/// Reads pixels of a PNG file for tests: 8-bit RGB or RGBA, non-interlaced, any row filter
/// (AVP's own stored PNGs and a browser's screenshots). Decoded by python3's zlib, so a test
/// does not trust AVP's encoder to check AVP's encoder.
public enum PNGPixels {
    public struct Image: Sendable {
        public var width: Int
        public var height: Int
        /// RGB per pixel (alpha dropped), rows top to bottom.
        public var rgb: [UInt8]

        public func pixel(_ x: Int, _ y: Int) -> [Int] {
            let o = (y * width + x) * 3
            return [Int(rgb[o]), Int(rgb[o + 1]), Int(rgb[o + 2])]
        }
    }

    public struct Unreadable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The whole image (`width`, `height`, then RGB rows).
    public static func read(_ path: String) throws -> Image {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", program, path]
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let bytes = [UInt8](data)
        guard p.terminationStatus == 0, bytes.count >= 8 else { throw Unreadable(description: "\(path): \(message)") }
        let width = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
        let height = bytes[4..<8].reduce(0) { $0 << 8 | Int($1) }
        guard bytes.count == 8 + width * height * 3 else { throw Unreadable(description: "\(path): \(bytes.count) bytes decoded for \(width)x\(height)") }
        return Image(width: width, height: height, rgb: Array(bytes[8...]))
    }

    /// RGB of each point.
    public static func pixels(of path: String, at points: [(Int, Int)]) throws -> [[Int]] {
        let image = try read(path)
        return points.map { x, y in (0..<image.width).contains(x) && (0..<image.height).contains(y) ? image.pixel(x, y) : [] }
    }

    private static let program = """
        import struct, sys, zlib
        d = open(sys.argv[1], 'rb').read()
        assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'not a PNG'
        p = 8; idat = b''; w = h = 0
        while p < len(d):
            n, = struct.unpack('>I', d[p:p+4]); t = d[p+4:p+8]
            if t == b'IHDR':
                w, h, depth, kind, _, _, interlace = struct.unpack('>IIBBBBB', d[p+8:p+21])
                assert depth == 8 and kind in (2, 6) and interlace == 0, 'only 8-bit RGB/RGBA, not interlaced'
                bpp = 3 if kind == 2 else 4
            if t == b'IDAT': idat += d[p+8:p+8+n]
            p += 12 + n
        raw = zlib.decompress(idat); stride = w * bpp; out = bytearray(); prev = bytearray(stride)
        for y in range(h):
            f = raw[y * (stride + 1)]; row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            for i in (range(stride) if f else ()):
                a = row[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
                if f == 1: row[i] = (row[i] + a) & 255
                elif f == 2: row[i] = (row[i] + b) & 255
                elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
                elif f == 4:
                    q = a + b - c; pa, pb, pc = abs(q - a), abs(q - b), abs(q - c)
                    row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            prev = row
            out += row if bpp == 3 else bytes(v for i, v in enumerate(row) if i % 4 != 3)
        sys.stdout.buffer.write(struct.pack('>II', w, h) + bytes(out))
        """
}
