// libFuzzer target: layer masks as the host's configuration gives them ({AVPS-v2.0-29}), binary
// PGM (P5) and PBM (P4) images read by MaskImage.parse. The bytes come from a file an operator
// names, not from a guest, but a mask is still a parser of outside data: it must refuse or decode,
// never trap, and never allocate more than the input holds. What it decodes must be consistent:
//   - one alpha byte per pixel, no more pixels than the raster had bytes (8 per byte for PBM);
//   - a PBM gives only 0 (black, hidden) and 255 (white, shown);
//   - written back as PGM (and, for a PBM, as PBM) it reads back unchanged.
// Build and run: fuzz/run mask
import Devices

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mask = try? MaskImage.parse(bytes) else { return 0 }
    let pixels = mask.width * mask.height
    precondition(mask.alpha.count == pixels && (1...DisplayPolicy.maxSide).contains(mask.width) && (1...DisplayPolicy.maxSide).contains(mask.height))
    let bitmap = bytes[1] == UInt8(ascii: "4")
    precondition(pixels <= size * (bitmap ? 8 : 1), "\(mask.width)x\(mask.height) from \(size) bytes")
    precondition((try? MaskImage.parse(MaskImage.pgm(mask))) == mask, "PGM round trip")
    if bitmap {
        precondition(mask.alpha.allSatisfy { $0 == 0 || $0 == 255 }, "a PBM pixel is black or white")
        precondition((try? MaskImage.parse(MaskImage.pbm(mask))) == mask, "PBM round trip")
    }
    return 0
}
