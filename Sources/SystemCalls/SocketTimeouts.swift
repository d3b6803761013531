#if canImport(Glibc)
import Glibc
#endif

extension FileDescriptor {
    /// SO_RCVTIMEO and SO_SNDTIMEO on a blocking socket: a peer that stops reading or
    /// writing makes the call fail with EAGAIN after `seconds` instead of holding its thread.
    public func setSocketTimeouts(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(rawValue, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
