#if canImport(Glibc)
import Glibc
#endif

/// The process's limit on open descriptors (RLIMIT_NOFILE). A server that holds a descriptor per
/// file a guest knows (virtio-fs's O_PATH nodes) raises it at start: the soft limit to the hard
/// one, and the hard one too where the process may (CAP_SYS_RESOURCE, up to fs.nr_open).
public enum OpenFileLimit {
    /// The soft limit now.
    public static var current: Int {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return Int(clamping: limit.rlim_cur)
    }

    /// The kernel's ceiling for any process (fs.nr_open): asking for more fails outright.
    static var ceiling: Int {
        let fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 1 << 20 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 1 << 20 }
        let digits = buffer.prefix(n).prefix { $0 >= 0x30 && $0 <= 0x39 }
        return Int(String(decoding: digits, as: UTF8.self)) ?? 1 << 20
    }

    /// Raises the limit toward `wanted`; returns the soft limit it ends at.
    @discardableResult
    public static func raise(to wanted: Int) -> Int {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return current }
        let target = rlim_t(max(0, min(wanted, ceiling)))
        if limit.rlim_cur >= target { return current }
        var raised = rlimit(rlim_cur: target, rlim_max: max(target, limit.rlim_max))
        if setrlimit(resource, &raised) != 0 {
            // Not privileged, or beyond fs.nr_open: as far as the hard limit goes.
            raised = rlimit(rlim_cur: min(target, limit.rlim_max), rlim_max: limit.rlim_max)
            _ = setrlimit(resource, &raised)
        }
        return current
    }
}
