/// FUSE request opcodes (`enum fuse_opcode` of Linux `include/uapi/linux/fuse.h`), the operations a
/// virtio-fs driver sends on the request and hiprio queues (VIRTIO 1.2 §5.11.6.1: "the FUSE protocol").
/// Numbers 7 and 19 were never assigned.
public enum FuseOpcode: UInt32, Sendable, CaseIterable {
    case lookup = 1
    case forget = 2
    case getattr = 3
    case setattr = 4
    case readlink = 5
    case symlink = 6
    case mknod = 8
    case mkdir = 9
    case unlink = 10
    case rmdir = 11
    case rename = 12
    case link = 13
    case open = 14
    case read = 15
    case write = 16
    case statfs = 17
    case release = 18
    case fsync = 20
    case setxattr = 21
    case getxattr = 22
    case listxattr = 23
    case removexattr = 24
    case flush = 25
    case initialize = 26
    case opendir = 27
    case readdir = 28
    case releasedir = 29
    case fsyncdir = 30
    case getlk = 31
    case setlk = 32
    case setlkw = 33
    case access = 34
    case create = 35
    case interrupt = 36
    case bmap = 37
    case destroy = 38
    case ioctl = 39
    case poll = 40
    case notifyReply = 41
    case batchForget = 42
    case fallocate = 43
    case readdirplus = 44
    case rename2 = 45
    case lseek = 46
    case copyFileRange = 47
    /// DAX only (VIRTIO 1.2 §5.11.6.4).
    case setupMapping = 48
    /// DAX only (VIRTIO 1.2 §5.11.6.4).
    case removeMapping = 49
    /// Protocol 7.34.
    case syncfs = 50
    /// Protocol 7.37.
    case tmpfile = 51
    /// Protocol 7.39.
    case statx = 52
    /// Protocol 7.45 (newer than Linux 6.12).
    case copyFileRange64 = 53
    /// CUSE only: never on a virtio-fs queue.
    case cuseInit = 4096

    /// Whether a request with this opcode gets no reply at all: FORGET and BATCH_FORGET (and
    /// INTERRUPT, which Linux virtio_fs never sends). Every other request needs at least a
    /// `fuse_out_header`.
    public var expectsReply: Bool {
        switch self {
        case .forget, .batchForget, .interrupt: false
        default: true
        }
    }
}
