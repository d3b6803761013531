#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// Asynchronous file I/O as a device uses it: prepare operations tagged with a
/// 64-bit value, submit them, collect completions. `IOUring` is the fast engine;
/// `BufferedWritesInPlace` puts it in front of page-cache files, writing in place what the
/// ring would hand to a worker thread; `SynchronousFileIO` runs the same operations in place
/// where io_uring is unavailable.
/// The iovec arrays passed in must stay valid until the operation completes.
public protocol AsyncFileIO: AnyObject {
    func prepareRead(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, userData: UInt64) -> Bool
    func prepareWrite(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, dataSync: Bool, userData: UInt64) -> Bool
    func prepareDataSync(fd: Int32, userData: UInt64) -> Bool
    func prepareFallocate(fd: Int32, mode: Int32, offset: UInt64, length: UInt64, userData: UInt64) -> Bool
    var pendingSubmissions: UInt32 { get }
    func submit(waitFor: UInt32) throws(Errno)
    func nextCompletion() -> IOUring.Completion?
    /// Readable (level-triggered) while completions are waiting; nil if they are always
    /// ready right after `submit`.
    var completionDescriptor: Int32? { get }
}

extension IOUring: AsyncFileIO {
    public var completionDescriptor: Int32? { pollDescriptor }
}

/// The same operations as `IOUring`, executed one by one at `submit` on the calling thread.
public final class SynchronousFileIO: AsyncFileIO, @unchecked Sendable {
    private enum Operation {
        case read(Int32, UnsafePointer<iovec>, Int, UInt64)
        case write(Int32, UnsafePointer<iovec>, Int, UInt64, Bool)
        case dataSync(Int32)
        case fallocate(Int32, Int32, UInt64, UInt64)
    }

    private var queued: [(Operation, UInt64)] = []
    private var done: [IOUring.Completion] = []
    private var next = 0

    public init() {}

    public var completionDescriptor: Int32? { nil }
    public var pendingSubmissions: UInt32 { UInt32(queued.count) }

    public func prepareRead(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, userData: UInt64) -> Bool {
        queued.append((.read(fd, vectors, count, offset), userData)); return true
    }
    public func prepareWrite(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, dataSync: Bool, userData: UInt64) -> Bool {
        queued.append((.write(fd, vectors, count, offset, dataSync), userData)); return true
    }
    public func prepareDataSync(fd: Int32, userData: UInt64) -> Bool {
        queued.append((.dataSync(fd), userData)); return true
    }
    public func prepareFallocate(fd: Int32, mode: Int32, offset: UInt64, length: UInt64, userData: UInt64) -> Bool {
        queued.append((.fallocate(fd, mode, offset, length), userData)); return true
    }

    public func submit(waitFor: UInt32) throws(Errno) {
        for (operation, userData) in queued {
            let result: Int
            switch operation {
            case let .read(fd, v, n, off): result = preadv(fd, v, Int32(n), off_t(off))
            case let .write(fd, v, n, off, sync): result = avp_pwritev2(fd, v, Int32(n), off_t(off), sync ? Int32(RWF_DSYNC) : 0)
            case let .dataSync(fd): result = Int(fdatasync(fd))
            case let .fallocate(fd, mode, off, len): result = Int(avp_fallocate(fd, mode, off_t(off), off_t(len)))
            }
            done.append(IOUring.Completion(userData: userData, result: result < 0 ? -avp_errno() : Int32(clamping: result)))
        }
        queued.removeAll(keepingCapacity: true)
    }

    public func nextCompletion() -> IOUring.Completion? {
        guard next < done.count else {
            done.removeAll(keepingCapacity: true)
            next = 0
            return nil
        }
        defer { next += 1 }
        return done[next]
    }
}
