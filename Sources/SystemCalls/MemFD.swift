#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// Anonymous shared memory (memfd_create(2)), the kind QEMU shares with vhost-user back ends.
public enum MemFD {
    /// A new close-on-exec memfd of `size` bytes. `sealable` creates it with MFD_ALLOW_SEALING,
    /// as QEMU's memory-backend-memfd does (QEMU then seals it against growing and shrinking).
    public static func create(name: String, size: Int, sealable: Bool = false) throws(Errno) -> FileDescriptor {
        let MFD_CLOEXEC: UInt32 = 1, MFD_ALLOW_SEALING: UInt32 = 2
        let flags = MFD_CLOEXEC | (sealable ? MFD_ALLOW_SEALING : 0)
        let fd = try retryingSyscall("memfd_create") { avp_memfd_create(name, flags) }
        let owned = FileDescriptor(adopting: fd)
        try owned.truncate(to: Int64(size))
        return owned
    }
}
