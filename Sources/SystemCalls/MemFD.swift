#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// Anonymous shared memory (memfd_create(2)), the kind QEMU shares with vhost-user back ends.
public enum MemFD {
    /// A new close-on-exec memfd of `size` bytes.
    public static func create(name: String, size: Int) throws(Errno) -> FileDescriptor {
        let MFD_CLOEXEC: UInt32 = 1
        let fd = try retryingSyscall("memfd_create") { avp_memfd_create(name, MFD_CLOEXEC) }
        let owned = FileDescriptor(adopting: fd)
        try owned.truncate(to: Int64(size))
        return owned
    }
}
