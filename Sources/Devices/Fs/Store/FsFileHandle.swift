#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// A kernel file handle (`name_to_handle_at`): names one file on its file system — across
/// renames, and never a different file later (the handle carries the inode's generation) —
/// without holding a descriptor. When too many nodes are open the store takes the handles of
/// those used longest ago, closes their `O_PATH` descriptors and reopens them on their next request
/// (`open_by_handle_at`, which needs CAP_DAC_READ_SEARCH), so a guest can know more files than
/// the server's RLIMIT_NOFILE. Handles exist only on the server side: a guest never sees or
/// forges one.
struct FsFileHandle: Sendable, Equatable {
    let bytes: [UInt8]
    let type: Int32
    /// The mount the file was on: a handle is reopened only through a descriptor on that mount.
    let mountID: Int32

    /// The handle of the file `descriptor` is open on, or nil where the file system has none
    /// (EOPNOTSUPP: e.g. an overlay without nfs_export) or the call is not allowed.
    static func of(_ descriptor: FileDescriptor) -> FsFileHandle? {
        var bytes = [UInt8](repeating: 0, count: Int(AVP_FILE_HANDLE_MAX))
        var length: UInt32 = 0, type: Int32 = 0, mount: Int32 = 0
        let status = bytes.withUnsafeMutableBufferPointer { avp_handle_of(descriptor.rawValue, $0.baseAddress, &length, &type, &mount) }
        guard status == 0, length <= UInt32(AVP_FILE_HANDLE_MAX) else { return nil }
        return FsFileHandle(bytes: Array(bytes.prefix(Int(length))), type: type, mountID: mount)
    }

    /// An `O_PATH` descriptor of the handle's file (a symlink is not followed), opened through
    /// `mount`, a descriptor on the same mount. ESTALE once the file is gone.
    func open(through mount: FileDescriptor) throws(Errno) -> FileDescriptor {
        let fd = try retryingSyscall("open_by_handle_at") {
            bytes.withUnsafeBufferPointer { avp_open_handle(mount.rawValue, $0.baseAddress, UInt32($0.count), type, AVP_O_PATH | O_CLOEXEC) }
        }
        return FileDescriptor(adopting: fd)
    }
}
