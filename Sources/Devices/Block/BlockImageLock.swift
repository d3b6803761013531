#if canImport(Glibc)
import Glibc
#endif
import SystemCalls

/// flock(2) on the image's open file description, held while a server has the image open.
///
/// Why: the kernel drops the lock only when the last reference to that open file goes, and a
/// read or write in flight holds one, also after the server process is gone. An io_uring request
/// or O_DIRECT transfer the kernel had started completes later, into guest memory or onto the
/// disk. A server that starts on the same image (the supervisor's restart, a test's kill) waits
/// for the lock before it touches the image, so before it resubmits the requests its predecessor
/// left in flight: otherwise the predecessor's late read could land in a buffer the guest had got
/// back and reused, and its late write could overwrite newer data.
///
/// Writable images are locked exclusively (one writer per image, as the platform file requires);
/// read-only images shared, so that several VMs' servers can read one image. The price: a
/// restarted read-only server does not wait for its predecessor's last reads.
enum BlockImageLock {
    /// How often a waiting server tries again.
    static let retryMicroseconds: UInt32 = 10_000

    /// Takes the lock, waiting up to `seconds` for whoever holds it; `waiting` runs once, when the
    /// first try finds the image locked.
    static func acquire(_ file: FileDescriptor, exclusive: Bool, waitingUpTo seconds: Double,
                        waiting: () -> Void) throws(BlockImageError) {
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB
        let tries = max(1, Int(seconds * 1_000_000 / Double(retryMicroseconds)))
        for attempt in 0..<tries {
            if flock(file.rawValue, operation) == 0 { return }
            let error = Errno.current("flock")
            guard error.code == EWOULDBLOCK || error.code == EINTR else { throw .open(error) }
            if attempt == 0 { waiting() }
            usleep(retryMicroseconds)
        }
        throw .locked(waitedSeconds: seconds)
    }
}
