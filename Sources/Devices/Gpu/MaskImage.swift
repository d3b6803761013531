#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// A layer's mask as the host's configuration gives it ({AVPS-v2.0-29}: "an optional mask,
/// 1-bit or 8-bit alpha image from the host's configuration, never from a guest"): a binary
/// Netpbm image, the simplest format every image editor writes.
///
/// - PGM `P5` (netpbm.sourceforge.net/doc/pgm.html): 8-bit grey, maxval 1 to 255, each
///   sample scaled to 0...255. 16-bit samples (maxval above 255) are refused.
/// - PBM `P4` (netpbm.sourceforge.net/doc/pbm.html): 1 bit per pixel, rows padded to a byte.
///
/// Both read as drawn: **white shows the layer, black shows the layers below**, grey blends.
/// For PGM that is the sample itself (maxval = white = alpha 255); for PBM, whose bit 1 is
/// black, a 0 bit becomes alpha 255 and a 1 bit alpha 0.
///
/// Parsing is a pure function of the bytes: header numbers are bounded before they are used,
/// and the raster must be exactly as long as the header says before anything is allocated.
/// Plain (ASCII) formats, colour images, PAM and several images in one file are refused.
public enum MaskImage {
    /// Longest header, comments included: editors write a line or two.
    public static let maxHeaderBytes = 64 * 1024
    /// Largest file `load` reads: a full-size 8-bit raster and the longest header.
    public static let maxFileBytes = DisplayPolicy.maxSide * DisplayPolicy.maxSide + maxHeaderBytes
    /// A header number with more digits is refused before it is converted (no overflow).
    static let maxDigits = 9

    /// The mask in `bytes`, or what is wrong with them.
    public static func parse(_ bytes: [UInt8]) throws(MaskImageError) -> AlphaMask {
        var header = NetpbmHeader(bytes: bytes)
        let format = try header.magic()
        let width = try header.side("width")
        let height = try header.side("height")
        var maxval = 1
        if format == .greymap {
            maxval = try header.number("maxval")
            guard (1...255).contains(maxval) else { throw .maxval(maxval) }
        }
        let start = try header.rasterStart()
        let rowBytes = format == .bitmap ? (width + 7) / 8 : width
        let expected = rowBytes * height   // at most 8192 * 8192: sides are checked
        let found = bytes.count - start
        guard found >= expected else { throw .truncatedRaster(width: width, height: height, expected: expected, found: found) }
        guard found == expected else { throw .trailingData(count: found - expected) }
        let raster = bytes[start...]
        let alpha: [UInt8]
        switch format {
        case .bitmap: alpha = bitmapAlpha(raster, width: width, height: height, rowBytes: rowBytes)
        case .greymap: alpha = try greymapAlpha(raster, width: width, maxval: maxval)
        }
        do { return try AlphaMask(width: width, height: height, alpha: alpha) } catch {
            preconditionFailure("a checked \(width)x\(height) raster made \(alpha.count) samples")
        }
    }

    /// Reads and parses the file at `path`: a regular file of at most `maxFileBytes`, checked
    /// before its contents are read.
    public static func load(path: String) throws(MaskImageError) -> AlphaMask {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)   // a FIFO must not block the open
        guard fd >= 0 else { throw .cannotRead(errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotRead(errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile }
        guard Int(info.st_size) <= maxFileBytes else { throw .fileTooLarge }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {   // to the end, whatever the size was: the file may have grown
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw .cannotRead(errno: errno) }
            if n == 0 { break }
            guard bytes.count + n <= maxFileBytes else { throw .fileTooLarge }
            bytes += chunk[0..<n]
        }
        return try parse(bytes)
    }

    /// `mask` as a binary PGM (maxval 255): what `parse` reads back unchanged.
    public static func pgm(_ mask: AlphaMask) -> [UInt8] {
        Array("P5\n\(mask.width) \(mask.height)\n255\n".utf8) + mask.alpha
    }

    /// `mask` as a binary PBM: white (bit 0) where alpha is 128 or more, black elsewhere.
    public static func pbm(_ mask: AlphaMask) -> [UInt8] {
        let rowBytes = (mask.width + 7) / 8
        var raster = [UInt8](repeating: 0, count: rowBytes * mask.height)
        for y in 0..<mask.height {
            for x in 0..<mask.width where mask.alpha[y * mask.width + x] < 128 {
                raster[y * rowBytes + x / 8] |= 0x80 >> UInt8(x % 8)
            }
        }
        return Array("P4\n\(mask.width) \(mask.height)\n".utf8) + raster
    }

    /// PBM rows: the most significant bit is the leftmost pixel; 1 is black (hidden).
    private static func bitmapAlpha(_ raster: ArraySlice<UInt8>, width: Int, height: Int, rowBytes: Int) -> [UInt8] {
        var alpha = [UInt8](repeating: 0, count: width * height)
        var row = raster.startIndex
        for y in 0..<height {
            for x in 0..<width where raster[row + x / 8] & (0x80 >> UInt8(x % 8)) == 0 {
                alpha[y * width + x] = 255
            }
            row += rowBytes
        }
        return alpha
    }

    /// PGM samples scaled from 0...maxval to 0...255, rounded; a sample above maxval is refused.
    private static func greymapAlpha(_ raster: ArraySlice<UInt8>, width: Int, maxval: Int) throws(MaskImageError) -> [UInt8] {
        if maxval == 255 { return Array(raster) }
        let scale = (0...255).map { UInt8(min(255, ($0 * 255 + maxval / 2) / maxval)) }
        var alpha = [UInt8](repeating: 0, count: raster.count)
        for (i, sample) in raster.enumerated() {
            guard Int(sample) <= maxval else { throw .sampleAboveMaxval(x: i % width, y: i / width, sample: Int(sample), maxval: maxval) }
            alpha[i] = scale[Int(sample)]
        }
        return alpha
    }
}

/// The header of a binary PBM or PGM: magic number, then whitespace-separated decimal numbers
/// (width, height, and for PGM the maxval), comments from '#' to the end of a line anywhere
/// between them, and exactly one whitespace character before the raster.
private struct NetpbmHeader {
    enum Format { case bitmap, greymap }

    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func magic() throws(MaskImageError) -> Format {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), (UInt8(ascii: "1")...UInt8(ascii: "7")).contains(bytes[1]),
              bytes.count == 2 || Self.isSeparator(bytes[2]) else { throw .notNetpbm }
        index = 2
        switch bytes[1] {
        case UInt8(ascii: "4"): return .bitmap
        case UInt8(ascii: "5"): return .greymap
        default: throw .unsupportedFormat(magic: "P" + String(UnicodeScalar(bytes[1])))
        }
    }

    /// A side: 1 to `DisplayPolicy.maxSide`.
    mutating func side(_ field: String) throws(MaskImageError) -> Int {
        let value = try number(field)
        guard (1...DisplayPolicy.maxSide).contains(value) else { throw .side(field: field, value: value) }
        return value
    }

    /// A decimal number after whitespace and comments, itself followed by whitespace or a comment.
    mutating func number(_ field: String) throws(MaskImageError) -> Int {
        try skipSeparators(before: field)
        var value = 0, digits = 0
        while index < bytes.count, let digit = Self.digit(bytes[index]) {
            digits += 1
            guard digits <= MaskImage.maxDigits else { throw .numberTooLarge(field: field) }
            value = value * 10 + digit
            index += 1
        }
        guard digits > 0 else { throw .malformedNumber(field: field) }
        if index < bytes.count, !Self.isSeparator(bytes[index]) { throw .malformedNumber(field: field) }
        return value
    }

    /// After the last number: one whitespace character (a comment counts as its line end), then
    /// the raster.
    mutating func rasterStart() throws(MaskImageError) -> Int {
        guard index < bytes.count else { throw .truncatedHeader(expecting: "the whitespace before the image data") }
        if bytes[index] == UInt8(ascii: "#") { try skipComment(before: "the image data") }
        index += 1
        guard index <= MaskImage.maxHeaderBytes else { throw .headerTooLong }
        return index
    }

    private mutating func skipSeparators(before field: String) throws(MaskImageError) {
        while index < bytes.count, Self.isSeparator(bytes[index]) {
            if bytes[index] == UInt8(ascii: "#") { try skipComment(before: "the " + field) }
            index += 1
            guard index <= MaskImage.maxHeaderBytes else { throw .headerTooLong }
        }
        guard index < bytes.count else { throw .truncatedHeader(expecting: "the " + field) }
    }

    /// Moves to the comment's line end (CR or LF).
    private mutating func skipComment(before what: String) throws(MaskImageError) {
        while index < bytes.count, bytes[index] != 0x0A, bytes[index] != 0x0D {
            index += 1
            guard index <= MaskImage.maxHeaderBytes else { throw .headerTooLong }
        }
        guard index < bytes.count else { throw .truncatedHeader(expecting: what) }
    }

    /// Space, tab, LF, VT, FF, CR, or the start of a comment.
    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte) || byte == UInt8(ascii: "#")
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }
}

/// Why a mask image was refused. The descriptions say what is wrong and, where it helps, how
/// to save the image instead; they never include the file's own bytes. Callers name the file.
public enum MaskImageError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case notNetpbm
    /// P1, P2, P3, P6 or P7: a Netpbm format that is not a binary PBM or PGM.
    case unsupportedFormat(magic: String)
    case truncatedHeader(expecting: String)
    case malformedNumber(field: String)
    case numberTooLarge(field: String)
    case side(field: String, value: Int)
    case maxval(Int)
    case headerTooLong
    case truncatedRaster(width: Int, height: Int, expected: Int, found: Int)
    case trailingData(count: Int)
    case sampleAboveMaxval(x: Int, y: Int, sample: Int, maxval: Int)
    case cannotRead(errno: Int32)
    case notRegularFile
    case fileTooLarge

    static let formats = "a mask is a binary (raw) PGM (P5, 8-bit) or PBM (P4, 1-bit)"

    public var description: String {
        switch self {
        case .empty: "the file is empty; \(Self.formats)"
        case .notNetpbm: "not a Netpbm image; \(Self.formats)"
        case .unsupportedFormat(let magic):
            switch magic {
            case "P1", "P2": "plain (ASCII) \(magic == "P1" ? "PBM" : "PGM") (\(magic)) is not supported; \(Self.formats)"
            case "P3", "P6": "\(magic) is a colour PPM image; \(Self.formats): save it as greyscale"
            default: "\(magic) (PAM) is not supported; \(Self.formats)"
            }
        case .truncatedHeader(let what): "the header ends before \(what)"
        case .malformedNumber(let field): "the header's \(field) is not a decimal number"
        case .numberTooLarge(let field): "the header's \(field) has more than \(MaskImage.maxDigits) digits"
        case let .side(field, value): "the \(field) is \(value); a mask side is 1 to \(DisplayPolicy.maxSide) pixels"
        case .maxval(let value) where (256...65535).contains(value):
            "maxval \(value) means 16-bit samples, which are not supported; save the mask with 8 bits (maxval 255)"
        case .maxval(let value): "maxval \(value) is invalid; it is 1 to 255"
        case .headerTooLong: "the header (comments included) is longer than \(MaskImage.maxHeaderBytes / 1024) KiB"
        case let .truncatedRaster(w, h, expected, found): "the image data is truncated: a \(w)x\(h) image needs \(expected) bytes, the file has \(found)"
        case .trailingData(let count): "\(count) byte(s) follow the image data (one image per file)"
        case let .sampleAboveMaxval(x, y, sample, maxval): "pixel (\(x), \(y)) is \(sample), above the maxval \(maxval)"
        case .cannotRead(let code): "cannot read it: \(String(cString: strerror(code)))"
        case .notRegularFile: "it is not a regular file"
        case .fileTooLarge: "it is larger than \(MaskImage.maxFileBytes) bytes, the most a \(DisplayPolicy.maxSide)x\(DisplayPolicy.maxSide) mask needs"
        }
    }
}
