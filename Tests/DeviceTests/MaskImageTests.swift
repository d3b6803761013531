import Devices
import Foundation
import Testing

/// Layer masks from the host's configuration ({AVPS-v2.0-29}): binary PGM and PBM images read
/// as drawn (white shows the layer, black the layers below), everything malformed refused with
/// a reason.
@Suite struct MaskImageTests {
    static func bytes(_ header: String, _ raster: [UInt8] = []) -> [UInt8] { Array(header.utf8) + raster }

    @Test func greymapSamplesAreTheAlpha() throws {
        let mask = try MaskImage.parse(Self.bytes("P5\n3 2\n255\n", [0, 128, 255, 1, 2, 3]))
        #expect(mask.width == 3 && mask.height == 2 && mask.alpha == [0, 128, 255, 1, 2, 3])
    }

    @Test func aSmallerMaxvalIsScaledToFullRange() throws {
        #expect(try MaskImage.parse(Self.bytes("P5 3 1 1 ", [0, 1, 1])).alpha == [0, 255, 255])
        #expect(try MaskImage.parse(Self.bytes("P5 4 1 3 ", [0, 1, 2, 3])).alpha == [0, 85, 170, 255])
        #expect(try MaskImage.parse(Self.bytes("P5 2 1 15 ", [7, 8])).alpha == [119, 136])   // rounded
        #expect(throws: MaskImageError.sampleAboveMaxval(x: 1, y: 1, sample: 16, maxval: 15)) {
            try MaskImage.parse(Self.bytes("P5 2 2 15 ", [0, 15, 3, 16]))
        }
    }

    @Test("PBM: bit 0 (white) shows the layer, bit 1 (black) hides it; row padding is ignored")
    func bitmapWhiteShows() throws {
        // 10 pixels a row: two bytes, the last 6 bits padding (set, to prove they are ignored).
        let mask = try MaskImage.parse(Self.bytes("P4\n10 2\n", [0b1010_0000, 0b0011_1111, 0b0000_0000, 0b1111_1111]))
        #expect(mask.alpha == [0, 255, 0, 255, 255, 255, 255, 255, 255, 255,
                               255, 255, 255, 255, 255, 255, 255, 255, 0, 0])
    }

    @Test func commentsAndWhitespaceAnywhereInTheHeader() throws {
        let header = "P5# made by hand\n#another\r\t3\u{0B}#w\n  2\u{0C}\n# maxval next\n255#last comment\n"
        #expect(try MaskImage.parse(Self.bytes(header, [1, 2, 3, 4, 5, 6])).alpha == [1, 2, 3, 4, 5, 6])
        // Exactly one whitespace character ends the header: a raster may start with a space or newline byte.
        #expect(try MaskImage.parse(Self.bytes("P5 2 1 255 ", [0x20, 0x0A])).alpha == [0x20, 0x0A])
    }

    @Test func encodersRoundTrip() throws {
        let mask = try AlphaMask(width: 13, height: 5, alpha: (0..<65).map { UInt8($0 * 37 % 256) })
        #expect(try MaskImage.parse(MaskImage.pgm(mask)) == mask)
        let bits = try AlphaMask(width: 13, height: 5, alpha: (0..<65).map { $0 % 3 == 0 ? 255 : 0 })
        #expect(try MaskImage.parse(MaskImage.pbm(bits)) == bits)
    }

    @Test func malformedHeadersSayWhatIsWrong() {
        let cases: [(String, MaskImageError)] = [
            ("", .empty),
            ("GIF89a", .notNetpbm),
            ("P", .notNetpbm),
            ("P9 1 1 255 ", .notNetpbm),
            ("P2 1 1 255 0", .unsupportedFormat(magic: "P2")),
            ("P1 1 1 0", .unsupportedFormat(magic: "P1")),
            ("P6 1 1 255 ", .unsupportedFormat(magic: "P6")),
            ("P7\nWIDTH 1\n", .unsupportedFormat(magic: "P7")),
            ("P5", .truncatedHeader(expecting: "the width")),
            ("P5 4 # no newline", .truncatedHeader(expecting: "the height")),
            ("P5 4 4", .truncatedHeader(expecting: "the maxval")),
            ("P5 4 4 255", .truncatedHeader(expecting: "the whitespace before the image data")),
            ("P5 4 4 255#", .truncatedHeader(expecting: "the image data")),
            ("P5 -4 4 255 ", .malformedNumber(field: "width")),
            ("P5 4x 4 255 ", .malformedNumber(field: "width")),
            ("P54 4 255 ", .notNetpbm),
            ("P5 4 4 25.5 ", .malformedNumber(field: "maxval")),
            ("P5 99999999999999999999999 4 255 ", .numberTooLarge(field: "width")),
            ("P5 0 4 255 ", .side(field: "width", value: 0)),
            ("P4 8193 1 ", .side(field: "width", value: 8193)),
            ("P5 4 999999999 255 ", .side(field: "height", value: 999_999_999)),
            ("P5 1 1 0 ", .maxval(0)),
            ("P5 1 1 65535 ", .maxval(65535)),
            ("P5 1 1 70000 ", .maxval(70000)),
        ]
        for (header, error) in cases {
            #expect(throws: error, "\(header.debugDescription)") { try MaskImage.parse(Self.bytes(header)) }
        }
        #expect(MaskImageError.maxval(65535).description.contains("16-bit samples, which are not supported"))
        #expect(MaskImageError.maxval(0).description == "maxval 0 is invalid; it is 1 to 255")
        #expect(MaskImageError.unsupportedFormat(magic: "P2").description.hasPrefix("plain (ASCII) PGM (P2) is not supported"))
    }

    @Test func theRasterMustBeExactlyAsLongAsTheHeaderSays() {
        #expect(throws: MaskImageError.truncatedRaster(width: 3, height: 2, expected: 6, found: 5)) {
            try MaskImage.parse(Self.bytes("P5 3 2 255\n", [1, 2, 3, 4, 5]))
        }
        #expect(throws: MaskImageError.truncatedRaster(width: 9, height: 2, expected: 4, found: 3)) {
            try MaskImage.parse(Self.bytes("P4 9 2\n", [0, 0, 0]))
        }
        #expect(throws: MaskImageError.trailingData(count: 1)) { try MaskImage.parse(Self.bytes("P4 8 1\n", [0, 0x0A])) }
        // A huge image announced by a small file fails on its length; nothing is allocated for it.
        #expect(throws: MaskImageError.truncatedRaster(width: 8192, height: 8192, expected: 67_108_864, found: 0)) {
            try MaskImage.parse(Self.bytes("P5 8192 8192 255\n"))
        }
    }

    @Test func endlessCommentsAreRefused() {
        let long = "P5\n#" + String(repeating: "x", count: MaskImage.maxHeaderBytes) + "\n1 1 255\n"
        #expect(throws: MaskImageError.headerTooLong) { try MaskImage.parse(Self.bytes(long, [0])) }
        let blank = "P5" + String(repeating: " ", count: MaskImage.maxHeaderBytes) + "1 1 255\n"
        #expect(throws: MaskImageError.headerTooLong) { try MaskImage.parse(Self.bytes(blank, [0])) }
    }

    @Test func loadReadsRegularFilesOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-mask-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mask = try AlphaMask(width: 4, height: 3, alpha: Array(0..<12))
        #expect(FileManager.default.createFile(atPath: directory + "/m.pgm", contents: Data(MaskImage.pgm(mask))))
        #expect(try MaskImage.load(path: directory + "/m.pgm") == mask)
        #expect(throws: MaskImageError.cannotRead(errno: ENOENT)) { try MaskImage.load(path: directory + "/none.pgm") }
        #expect(throws: MaskImageError.notRegularFile) { try MaskImage.load(path: directory) }
        #expect(throws: MaskImageError.notRegularFile) { try MaskImage.load(path: "/dev/zero") }
        // Larger than any mask can be: refused from its size, before it is read.
        let big = directory + "/big.pgm"
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, off_t(MaskImage.maxFileBytes + 1)) == 0)
        #expect(throws: MaskImageError.fileTooLarge) { try MaskImage.load(path: big) }
        #expect(MaskImageError.cannotRead(errno: ENOENT).description == "cannot read it: No such file or directory")
    }
}
