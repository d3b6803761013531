/// Counters of one block device, logged when its server stops and read by tests.
public struct BlockStatistics: Sendable, CustomStringConvertible {
    public var reads = 0
    public var writes = 0
    /// Writes submitted with RWF_DSYNC because the cache was in write-through mode.
    public var writeThroughWrites = 0
    public var flushes = 0
    public var discards = 0
    public var writeZeroes = 0
    public var getIDs = 0
    public var bytesRead: UInt64 = 0
    public var bytesWritten: UInt64 = 0
    /// Requests answered IOERR or UNSUPP because of what the driver sent.
    public var refused = 0
    /// Chains without even a status byte.
    public var malformed = 0
    /// Host I/O that failed.
    public var ioErrors = 0
    /// Write-cache mode changes by the driver (CONFIG_WCE).
    public var cacheModeChanges = 0

    public var description: String {
        "reads=\(reads) writes=\(writes) writethrough_writes=\(writeThroughWrites) flushes=\(flushes) "
            + "discards=\(discards) write_zeroes=\(writeZeroes) get_id=\(getIDs) bytes_read=\(bytesRead) "
            + "bytes_written=\(bytesWritten) refused=\(refused) malformed=\(malformed) io_errors=\(ioErrors) "
            + "cache_mode_changes=\(cacheModeChanges)"
    }
}
