#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// Clearing set-user-ID and set-group-ID for FUSE_HANDLE_KILLPRIV_V2: the guest leaves it to the
/// server when a caller without CAP_FSETID writes, truncates or chowns a file (the request says
/// so), and the host's kernel will not do it for the server, which has CAP_FSETID. Linux's rule:
/// set-user-ID always goes; set-group-ID only with group execute (without it the bit means
/// mandatory locking, not privilege).
extension PassthroughStore {
    /// `mode`'s permission bits without the set-ID bits that must go, or nil when none is set.
    static func withoutSetID(_ mode: mode_t) -> mode_t? {
        var bits = mode & 0o7777
        bits &= ~S_ISUID
        if mode & S_IXGRP != 0 { bits &= ~S_ISGID }
        return bits == mode & 0o7777 ? nil : bits
    }

    /// Clears the set-ID bits of the regular file `descriptor` is open on (for I/O or `O_PATH`: fchmod
    /// refuses the latter, so through /proc/self/fd), if it has any.
    static func dropSetID(_ descriptor: FileDescriptor) {
        var st = Glibc.stat()
        guard fstatat(descriptor.rawValue, "", &st, AVP_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFREG,
              let bits = withoutSetID(st.st_mode) else { return }
        _ = fchmodat(AT_FDCWD, procPath(descriptor), bits, 0)
    }
}
