#if canImport(Glibc)
import Glibc
#endif
import GuestMemory
import Logging
import SystemCalls
import Virtio

/// virtio-fs (VIRTIO 1.2 §5.11; {AVPS-v2.0-50}): a shared directory as the guest's file system,
/// spoken as FUSE over the queues — the hiprio queue (0: FORGET, no reply) and request queues
/// (1…). QEMU's vhost-user-fs makes the configuration space (tag, number of request queues)
/// itself, so this device has none and no feature bits.
///
/// Each request is the driver's device-readable bytes (`FuseRequest.parse`: header, arguments,
/// write data) and the device-writable space for the reply. Everything a guest sends is checked:
/// the parser refuses malformed requests, the store refuses node IDs and handles it never gave
/// out, names that climb ("." and ".."), changes to a read-only share, and holds nodes and
/// handles within bounds. A refused request gets an error reply (or none where FUSE has none)
/// and a rate-limited log line; the device goes on. Requests run on the server thread, one at
/// a time, with the store's blocking system calls.
public final class FsDevice: VirtioDevice, @unchecked Sendable {
    static let hiprioQueue = 0
    /// The largest reply payload (READ, READDIR, xattr values and lists): the largest WRITE, 1 MiB.
    static let maxReplyBytes = FuseRequest.maxWriteBytes

    public let deviceType = VirtioDeviceType.fileSystem
    public let queueCount: Int
    public let deviceFeatures: VirtioFeatures = []

    let store: PassthroughStore
    /// Whose files the guest's are on the host, and whose the host's are in the guest.
    let owners: FsOwnerMapping
    let negotiation = FuseNegotiation()
    let logger: Logger
    /// INIT was answered; requests before it are refused with EIO.
    var initialized = false
    var statistics = FsStatistics()
    var refusals = LogSampler()

    /// `requestQueues`: QEMU's `num-request-queues` (default 1).
    public init(store: PassthroughStore, requestQueues: Int = 1, owners: FsOwnerMapping = .identity, logger: Logger) {
        precondition((1...16).contains(requestQueues))
        self.store = store
        self.owners = owners
        self.logger = logger
        queueCount = 1 + requestQueues
    }

    public var currentStatistics: FsStatistics { statistics }

    public func process(_ queue: DeviceQueue) {
        queue.drain { chain in serve(chain) }
    }

    public func reset() {
        store.reset()
        initialized = false
    }

    /// Serves one request; returns the reply's length (0: no reply).
    func serve(_ chain: DescriptorChain) -> Int {
        statistics.requests += 1
        var reader = chain.reader()
        guard chain.readableLength <= FuseRequest.maxRequestBytes else {
            // Only the header is read, for the request's ID: the rest is never copied.
            let unique = (try? reader.readBytes(min(16, chain.readableLength))).flatMap(FuseInHeader.unique(in:))
            return refuse(chain, unique: unique, "\(chain.readableLength) readable bytes exceed \(FuseRequest.maxRequestBytes)")
        }
        guard let bytes = try? reader.readBytes(chain.readableLength) else { return refuse(chain, unique: nil, "unreadable request") }
        let header: FuseInHeader, request: FuseRequest
        do {
            (header, request) = try FuseRequest.parse(bytes)
        } catch where error.errno == ENAMETOOLONG {
            // Not hostile: what a local file system answers (stress-ng's filename stressor probes it).
            return answerError(chain, unique: FuseInHeader.unique(in: bytes), errno: ENAMETOOLONG)
        } catch {
            return refuse(chain, unique: FuseInHeader.unique(in: bytes), "\(error)")
        }
        // A request that has a reply needs room for at least its header; without it, nothing is done.
        guard chain.writableLength >= FuseReply.headerSize || request.hasNoReply else {
            return refuse(chain, unique: nil, "\(request.name): \(chain.writableLength) writable bytes leave no room for a reply")
        }
        // What a reply may carry: the writable space, and never more than `maxReplyBytes`, however
        // much buffer a guest offers and whatever size it asks for.
        let room = min(max(0, chain.writableLength - FuseReply.headerSize), Self.maxReplyBytes)
        guard let reply = answer(request, header: header, room: room) else { return 0 }
        guard reply.count <= chain.writableLength else {
            return refuse(chain, unique: header.unique, "\(request.name): a reply of \(reply.count) bytes does not fit \(chain.writableLength)")
        }
        var writer = chain.writer()
        do { try writer.write(reply) } catch { return refuse(chain, unique: nil, "\(request.name): \(error)") }
        return reply.count
    }

    /// Counts and logs a refused request; answers EINVAL when it can (its ID known and room for a header).
    func refuse(_ chain: DescriptorChain, unique: UInt64?, _ message: String) -> Int {
        statistics.refused += 1
        if refusals.record() { logger.warning("fs: request \(chain.head): \(message) (\(refusals.count) refused so far)") }
        return answerError(chain, unique: unique, errno: EINVAL)
    }

    /// An error reply when the request's ID is known and a header fits; else none.
    func answerError(_ chain: DescriptorChain, unique: UInt64?, errno: Int32) -> Int {
        guard let unique, chain.writableLength >= FuseReply.headerSize else { return 0 }
        var writer = chain.writer()
        let reply = FuseReply.error(unique: unique, errno: errno)
        return (try? writer.write(reply)) != nil ? reply.count : 0
    }
}

/// What a file-system device has done since it started.
public struct FsStatistics: Sendable, Equatable {
    /// Requests taken from the queues, and those refused as malformed.
    public var requests = 0
    public var refused = 0
    /// Requests answered with an error from the host (ENOENT, EROFS, …).
    public var errors = 0
    public var bytesRead = 0
    public var bytesWritten = 0

    public init() {}
}
