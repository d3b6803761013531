#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// The file (or host block device) behind a virtual disk.
public final class BlockImage: Sendable {
    public let path: String
    public let file: FileDescriptor
    public let readOnly: Bool
    public let direct: Bool
    /// Size in 512-byte sectors (a partial last sector is not exposed).
    public let capacitySectors: UInt64

    /// How long a server waits for an earlier one to let go of the image (`BlockImageLock`).
    public static let lockWaitSeconds = 30.0

    /// Opens and locks the image; `waiting` runs if another open file holds the lock.
    public init(path: String, readOnly: Bool, direct: Bool, lockWaitSeconds: Double = BlockImage.lockWaitSeconds,
                waiting: () -> Void = {}) throws(BlockImageError) {
        self.path = path
        self.readOnly = readOnly
        self.direct = direct
        var flags = readOnly ? O_RDONLY : O_RDWR
        if direct { flags |= avp_o_direct() }
        do { file = try FileDescriptor.open(path, flags: flags) } catch { throw .open(error) }
        try BlockImageLock.acquire(file, exclusive: !readOnly, waitingUpTo: lockWaitSeconds, waiting: waiting)
        let end = lseek(file.rawValue, 0, SEEK_END)
        guard end >= 0 else { throw .open(Errno.current("lseek \(path)")) }
        capacitySectors = UInt64(end) / 512
    }

    /// fdatasync(2), for the synchronous paths (write-zeroes fallback, tests).
    public func dataSync() throws(Errno) {
        _ = try retryingSyscall("fdatasync") { fdatasync(file.rawValue) }
    }

    /// Writes zeroes with pwrite(2): the fallback when the file system cannot zero a range.
    public func writeZeroes(offset: UInt64, length: UInt64) throws(Errno) {
        let chunk = [UInt8](repeating: 0, count: 1 << 16)
        var done: UInt64 = 0
        while done < length {
            let n = Int(min(UInt64(chunk.count), length - done))
            let written = chunk.withUnsafeBytes { pwrite(file.rawValue, $0.baseAddress, n, off_t(offset + done)) }
            guard written > 0 else { throw Errno.current("pwrite \(path)") }
            done += UInt64(written)
        }
    }
}
