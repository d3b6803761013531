#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// The kernel's CSPRNG (getrandom(2)), the source of every random byte AVP hands out.
public enum SystemRandom {
    /// Fills `buffer` completely from getrandom(2) (blocking only until the pool is initialised).
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(Errno) {
        var done = 0
        while done < buffer.count {
            let n = try retryingSyscall("getrandom") { avp_getrandom(buffer.baseAddress! + done, buffer.count - done, 0) }
            done += n
        }
    }

    public static func bytes(_ count: Int) throws(Errno) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withMutableBytes { (b) throws(Errno) in try fill(b) }
        return out
    }

    public static func uint64() throws(Errno) -> UInt64 {
        var v: UInt64 = 0
        try withUnsafeMutableBytes(of: &v) { (b) throws(Errno) in try fill(b) }
        return v
    }
}
