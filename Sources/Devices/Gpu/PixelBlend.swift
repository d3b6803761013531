/// The compositor's row operations on 4-byte pixels (B, G, R, X, as `ScanoutFrame`).
/// All four bytes go through the same arithmetic, so an opaque copy and a blend with
/// alpha 255 give the source's bytes exactly, which is what the safety CRC compares.
///
/// Blending: out = (src * a + dst * (255 - a)) / 255 per byte, rounded to nearest (the
/// division by 255 is `(t + 128 + ((t + 128) >> 8)) >> 8`, exact for every t up to 65535);
/// alpha 255 gives src and 0 gives dst exactly. Eight pixels at a time, as 16 lanes of 16
/// bits read straight from memory: each lane holds two bytes of a pixel, and the even bytes
/// (B, R) and odd bytes (G, X) are blended separately in place (masks and shifts), so no
/// lane widening or narrowing is needed and SSE2's 16-bit multiply does the work.
enum PixelBlend {
    typealias Lanes = SIMD16<UInt16>
    static let lanePixels = 8

    /// dst = src for `pixels` pixels.
    @inline(__always)
    static func copy(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, pixels: Int) {
        dst.copyMemory(from: src, byteCount: pixels * 4)
    }

    /// dst = black (all bytes 0).
    @inline(__always)
    static func clear(_ dst: UnsafeMutableRawPointer, pixels: Int) {
        dst.initializeMemory(as: UInt8.self, repeating: 0, count: pixels * 4)
    }

    /// Eight pixels: each lane's low and high bytes blended with the lane's alpha `a`.
    @inline(__always)
    static func mix(_ s: Lanes, _ d: Lanes, _ a: Lanes) -> Lanes {
        let low = Lanes(repeating: 0x00FF), round = Lanes(repeating: 128)
        let inverse = low &- a
        var even = (s & low) &* a &+ (d & low) &* inverse &+ round
        var odd = (s &>> 8) &* a &+ (d &>> 8) &* inverse &+ round
        even = (even &+ (even &>> 8)) &>> 8
        odd = (odd &+ (odd &>> 8)) & ~low
        return even | odd
    }

    /// One pixel, byte by byte (row tails).
    @inline(__always)
    static func mixPixel(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ offset: Int, alpha: UInt16) {
        for i in offset..<offset + 4 {
            let t = UInt16(src.load(fromByteOffset: i, as: UInt8.self)) &* alpha
                &+ UInt16(dst.load(fromByteOffset: i, as: UInt8.self)) &* (255 &- alpha) &+ 128
            dst.storeBytes(of: UInt8(truncatingIfNeeded: (t &+ (t &>> 8)) &>> 8), toByteOffset: i, as: UInt8.self)
        }
    }

    /// dst = src over dst with one alpha (1 to 254) for every pixel.
    static func blend(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, alpha: UInt8, pixels: Int) {
        let a = Lanes(repeating: UInt16(alpha))
        var i = 0
        while i + lanePixels <= pixels {
            let o = i * 4
            let mixed = mix(src.loadUnaligned(fromByteOffset: o, as: Lanes.self), UnsafeRawPointer(dst).loadUnaligned(fromByteOffset: o, as: Lanes.self), a)
            dst.storeBytes(of: mixed, toByteOffset: o, as: Lanes.self)
            i += lanePixels
        }
        while i < pixels {
            mixPixel(dst, src, i * 4, alpha: UInt16(alpha))
            i += 1
        }
    }

    /// dst = src over dst with `alphas[i]` for pixel i. Groups of eight pixels that are all
    /// transparent are skipped and all opaque are copied, so 1-bit masks cost little.
    static func blend(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, alphas: UnsafePointer<UInt8>, pixels: Int) {
        let raw = UnsafeRawPointer(alphas)
        var i = 0
        while i + lanePixels <= pixels {
            let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let o = i * 4
            if word == .max {
                dst.storeBytes(of: src.loadUnaligned(fromByteOffset: o, as: Lanes.self), toByteOffset: o, as: Lanes.self)
            } else if word != 0 {
                let mixed = mix(src.loadUnaligned(fromByteOffset: o, as: Lanes.self), UnsafeRawPointer(dst).loadUnaligned(fromByteOffset: o, as: Lanes.self),
                                spread(raw.loadUnaligned(fromByteOffset: i, as: SIMD8<UInt8>.self)))
                dst.storeBytes(of: mixed, toByteOffset: o, as: Lanes.self)
            }
            i += lanePixels
        }
        while i < pixels {
            mixPixel(dst, src, i * 4, alpha: UInt16(alphas[i]))
            i += 1
        }
    }

    /// Eight alphas, each over its pixel's two lanes.
    @inline(__always)
    static func spread(_ g: SIMD8<UInt8>) -> Lanes {
        Lanes(UInt16(g[0]), UInt16(g[0]), UInt16(g[1]), UInt16(g[1]), UInt16(g[2]), UInt16(g[2]), UInt16(g[3]), UInt16(g[3]),
              UInt16(g[4]), UInt16(g[4]), UInt16(g[5]), UInt16(g[5]), UInt16(g[6]), UInt16(g[6]), UInt16(g[7]), UInt16(g[7]))
    }
}
