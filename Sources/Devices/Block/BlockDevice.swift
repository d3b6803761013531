#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import GuestMemory
import Logging
import SystemCalls
import Virtio

/// virtio-blk (VIRTIO 1.2 §5.2) over an image file: {AVPS-v2.0-4} to {AVPS-v2.0-7}
/// and WRITE_ZEROES. Requests go to io_uring (or, where it is unavailable, run
/// synchronously) and complete out of order; every queue is served from the one
/// device thread while the kernel works on many requests at once.
///
/// Durability (VIRTIO 1.2 §5.2.6.1): in write-back mode a completed FLUSH means
/// fdatasync(2) finished; in write-through mode (WCE=0, or FLUSH offered but not
/// negotiated) every write carries RWF_DSYNC and discard/write-zeroes are followed
/// by fdatasync before they complete.
///
/// Requests in flight when the server dies are not lost: the device tracks them in the
/// front end's inflight region (`InflightTrackingDevice`) and the next server resubmits them;
/// every request is idempotent (a write or discard done twice leaves the same data).
public final class BlockDevice: VirtioDevice, InflightTrackingDevice, LoopRingDevice, @unchecked Sendable {
    /// Segments per request (QEMU's choice for a 256-entry queue).
    public static let segMax: UInt32 = 254
    /// Bytes per segment.
    public static let sizeMax: UInt32 = 1 << 20
    public static let maxDiscardSectors: UInt32 = 1 << 22
    public static let maxDiscardSegments: UInt32 = 32
    /// Discards are whole 4 KiB host blocks.
    public static let discardAlignmentSectors: UInt32 = 8

    public let deviceType = VirtioDeviceType.block
    public let queueCount: Int
    public let maxQueueSize: UInt16 = 1024
    public let configSize = BlockConfiguration.size
    public let options: BlockDeviceOptions
    public let image: BlockImage
    public private(set) var statistics = BlockStatistics()

    private var configuration: BlockConfiguration
    private var negotiated: VirtioFeatures = []
    private var engine: AsyncFileIO
    private let inFlight: InFlightTable
    private var touched: [DeviceQueue] = []
    private let logger: Logger
    private var limits: BlockLimits

    /// A device over `image`, which must have been opened for `options` (`openImage`).
    public init(options: BlockDeviceOptions, image: BlockImage, logger: Logger) throws {
        self.options = options
        self.logger = logger
        guard options.queueCount >= 1, options.queueCount <= 64 else {
            throw BlockDeviceError.invalidOption("queues must be 1...64, not \(options.queueCount)")
        }
        guard options.serial.utf8.count <= 20 else { throw BlockDeviceError.invalidOption("serial longer than 20 bytes") }
        guard [512, 1024, 2048, 4096].contains(options.blockSize) else {
            throw BlockDeviceError.invalidOption("block size \(options.blockSize): use 512, 1024, 2048 or 4096")
        }
        guard image.path == options.imagePath, image.readOnly == options.readOnly, image.direct == options.direct else {
            throw BlockDeviceError.invalidOption("image \(image.path) was opened for other options")
        }
        self.image = image
        queueCount = options.queueCount
        let ring = try? IOUring(entries: Self.ringEntries, allowedOperations: IOUring.fileOperations)
        if ring == nil { logger.warning("io_uring unavailable; block I/O runs synchronously on the device thread") }
        engine = ring.map { Self.engine(on: $0, direct: options.direct) } ?? SynchronousFileIO()
        inFlight = InFlightTable(vectorsPerRequest: Int(Self.segMax) + 16)
        configuration = BlockConfiguration(
            capacitySectors: image.capacitySectors, sizeMax: Self.sizeMax, segMax: Self.segMax,
            blockSize: options.blockSize, physicalBlockExponent: options.blockSize < 4096 ? UInt8((4096 / options.blockSize).trailingZeroBitCount) : 0,
            minIOSize: UInt16(max(1, 4096 / options.blockSize)), optimalIOSize: 0,
            writeback: options.cache == .writeback ? 1 : 0, queueCount: UInt16(options.queueCount),
            maxDiscardSectors: Self.maxDiscardSectors, maxDiscardSegments: Self.maxDiscardSegments,
            discardSectorAlignment: Self.discardAlignmentSectors,
            maxWriteZeroesSectors: Self.maxDiscardSectors, maxWriteZeroesSegments: Self.maxDiscardSegments,
            writeZeroesMayUnmap: 1)
        limits = BlockLimits(
            capacitySectors: image.capacitySectors, readOnly: options.readOnly,
            maxTransferBytes: Int(Self.segMax) * Int(Self.sizeMax),
            maxDiscardSectors: Self.maxDiscardSectors, maxDiscardSegments: Self.maxDiscardSegments,
            discardAlignmentSectors: Self.discardAlignmentSectors,
            maxWriteZeroesSectors: Self.maxDiscardSectors, maxWriteZeroesSegments: Self.maxDiscardSegments,
            discardEnabled: false, writeZeroesEnabled: false)
    }

    static let ringEntries: UInt32 = 1024

    /// Through the page cache, write-back writes are cheaper in place than through io-wq.
    private static func engine(on ring: AsyncFileIO, direct: Bool) -> AsyncFileIO {
        direct ? ring : BufferedWritesInPlace(ring: ring)
    }

    /// The engine in use, for logs and benchmarks.
    public var engineName: String {
        let ring = "io_uring" + (sharesLoopRing ? " shared with the event loop" : "")
        return engine is SynchronousFileIO ? "synchronous" : engine is BufferedWritesInPlace ? ring + ", write-back writes in place" : ring
    }

    private var sharesLoopRing = false

    // MARK: LoopRingDevice

    public var loopRingEntries: UInt32 { Self.ringEntries }

    /// Replaces the device's own ring (its descriptor leaves `eventDescriptors`).
    public func adoptLoopRing(_ io: AsyncFileIO) {
        guard inFlight.count == 0 else { return }
        engine = Self.engine(on: io, direct: options.direct)
        sharesLoopRing = true
    }

    public func loopRingCompletionsReady() { reapAndSubmit() }

    // MARK: VirtioDevice

    public var deviceFeatures: VirtioFeatures {
        var f: VirtioFeatures = [BlockFeature.sizeMax, BlockFeature.segMax, BlockFeature.blockSize, BlockFeature.topology,
                                 BlockFeature.flush, BlockFeature.configWCE]
        if options.readOnly { f.insert(BlockFeature.readOnly) } else { f.formUnion([BlockFeature.discard, BlockFeature.writeZeroes]) }
        if queueCount > 1 { f.insert(BlockFeature.multiQueue) }
        return f
    }

    public func readConfig(offset: Int, count: Int) -> [UInt8]? {
        let bytes = configuration.bytes
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return nil }
        return Array(bytes[offset..<offset + count])
    }

    /// Only `writeback` is writable, and only with VIRTIO_BLK_F_CONFIG_WCE (§5.2.5).
    public func writeConfig(offset: Int, bytes: [UInt8]) -> Bool {
        guard offset == BlockConfiguration.writebackOffset, bytes.count == 1, bytes[0] <= 1,
              negotiated.contains(BlockFeature.configWCE) else { return false }
        if configuration.writeback != bytes[0] {
            configuration.writeback = bytes[0]
            statistics.cacheModeChanges += 1
            logger.info("driver switched the write cache to \(bytes[0] == 1 ? "write back" : "write through")")
        }
        return true
    }

    public func acknowledge(features: VirtioFeatures) {
        negotiated = features
        limits.discardEnabled = features.contains(BlockFeature.discard)
        limits.writeZeroesEnabled = features.contains(BlockFeature.writeZeroes)
    }

    /// Writes must be stable on completion (VIRTIO 1.2 §5.2.6.1, cases 1 and 2).
    var writeThrough: Bool {
        if negotiated.contains(BlockFeature.configWCE) { return configuration.writeback == 0 }
        if negotiated.contains(BlockFeature.flush) { return configuration.writeback == 0 }
        return true
    }

    public var eventDescriptors: [Int32] { engine.completionDescriptor.map { [$0] } ?? [] }

    public func handleEvent(descriptor: Int32) {
        reapAndSubmit()
    }

    /// Requests started before they are submitted and completed as a batch: small enough that
    /// the driver gets its first completions while the rest are still being started.
    static let submitBatch = 16

    public func process(_ queue: DeviceQueue) {
        var started = 0
        repeat {
            while let chain = queue.pop() {
                start(chain, on: queue)
                started += 1
                // Mid-batch, the interrupt leaves now; the last one goes with the loop's next wait.
                if started % Self.submitBatch == 0 { reapAndSubmit(flushingNotifications: true) }
            }
        } while queue.rearm()
        reapAndSubmit()
        queue.notifyIfNeeded()
    }

    /// GET_VRING_BASE: the queue's in-flight requests finish before it stops.
    public func queueStopped(index: Int) {
        waitForCompletions { self.inFlight.count(queue: index) > 0 }
    }

    public func reset() {
        waitForCompletions { self.inFlight.count > 0 }
        configuration.writeback = options.cache == .writeback ? 1 : 0
        negotiated = []
    }

    // MARK: Requests

    private func start(_ chain: DescriptorChain, on queue: DeviceQueue) {
        switch BlockRequestParser.parse(chain, limits: limits) {
        case let .malformed(reason):
            statistics.malformed += 1
            logRefusal("request \(chain.head) dropped: \(reason)", count: statistics.malformed)
            queue.complete(chain, written: 0)
        case let .refuse(status, reason, statusByte):
            statistics.refused += 1
            logRefusal("request \(chain.head) answered \(status): \(reason)", count: statistics.refused)
            finish(queue: queue, head: chain.head, status: statusByte, value: status, written: 1)
        case let .request(request, statusByte):
            switch request {
            case let .getID(buffers):
                statistics.getIDs += 1
                var writer = ChainWriter(segments: buffers)
                let id = Array(options.serial.utf8) + [UInt8](repeating: 0, count: 20)
                let n = min(20, writer.remaining)
                try? writer.write(Array(id.prefix(n)))
                finish(queue: queue, head: chain.head, status: statusByte, value: .ok, written: n + 1)
            case let .read(offset, buffers, length):
                statistics.reads += 1
                statistics.bytesRead += UInt64(length)
                submitTransfer(.read, chain, queue, statusByte, offset: offset, buffers: buffers, length: length)
            case let .write(offset, buffers, length):
                statistics.writes += 1
                statistics.bytesWritten += UInt64(length)
                submitTransfer(.write, chain, queue, statusByte, offset: offset, buffers: buffers, length: length)
            case .flush:
                statistics.flushes += 1
                let slot = track(.flush, chain, queue, statusByte, pending: 1)
                prepare { engine.prepareDataSync(fd: image.file.rawValue, userData: UInt64(slot)) }
            case let .discard(ranges):
                statistics.discards += 1
                submitRanges(.discard, ranges, chain, queue, statusByte)
            case let .writeZeroes(ranges):
                statistics.writeZeroes += 1
                submitRanges(.writeZeroes, ranges, chain, queue, statusByte)
            }
        }
    }

    private func track(_ kind: InFlightRequest.Kind, _ chain: DescriptorChain, _ queue: DeviceQueue,
                       _ status: GuestSlice, pending: Int) -> Int {
        let slot = inFlight.allocate()
        inFlight[slot].kind = kind
        inFlight[slot].queue = queue
        inFlight[slot].chain = chain
        inFlight[slot].status = status
        inFlight[slot].pending = pending
        return slot
    }

    private func submitTransfer(_ kind: InFlightRequest.Kind, _ chain: DescriptorChain, _ queue: DeviceQueue,
                                _ status: GuestSlice, offset: UInt64, buffers: [GuestSlice], length: Int) {
        guard buffers.count <= inFlight.vectorsPerRequest else {
            statistics.refused += 1
            logRefusal("request \(chain.head) answered ioError: \(buffers.count) segments", count: statistics.refused)
            finish(queue: queue, head: chain.head, status: status, value: .ioError, written: 1)
            return
        }
        let slot = track(kind, chain, queue, status, pending: 1)
        inFlight[slot].expected = length
        let vectors = inFlight.vectors(of: slot)
        for (i, buffer) in buffers.enumerated() { vectors[i] = buffer.ioVector }
        let fd = image.file.rawValue
        if kind == .read {
            prepare { engine.prepareRead(fd: fd, vectors: vectors, count: buffers.count, offset: offset, userData: UInt64(slot)) }
        } else {
            let sync = writeThrough
            if sync { statistics.writeThroughWrites += 1 }
            prepare { engine.prepareWrite(fd: fd, vectors: vectors, count: buffers.count, offset: offset, dataSync: sync, userData: UInt64(slot)) }
        }
    }

    private func submitRanges(_ kind: InFlightRequest.Kind, _ ranges: [BlockRange], _ chain: DescriptorChain,
                              _ queue: DeviceQueue, _ status: GuestSlice) {
        let slot = track(kind, chain, queue, status, pending: ranges.count)
        inFlight[slot].ranges = ranges
        inFlight[slot].syncAfter = writeThrough
        for (i, range) in ranges.enumerated() {
            let mode = Self.fallocateMode(kind, unmap: range.unmap)
            prepare {
                engine.prepareFallocate(fd: image.file.rawValue, mode: mode, offset: range.sector * 512,
                                        length: UInt64(range.sectorCount) * 512, userData: UInt64(slot) | UInt64(i) << 32)
            }
        }
    }

    /// Discard and unmapping write-zeroes punch holes; plain write-zeroes zeroes the range in place.
    static func fallocateMode(_ kind: InFlightRequest.Kind, unmap: Bool) -> Int32 {
        if kind == .discard || unmap { return Int32(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) }
        return Int32(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)
    }

    /// Prepares one operation, submitting first when the submission queue is full.
    private func prepare(_ body: () -> Bool) {
        if body() { return }
        submit(waitFor: 0)
        while !body() {
            // Still full: completions must be consumed before anything else fits.
            submit(waitFor: 1)
            reap()
        }
    }

    private func submit(waitFor: UInt32) {
        do { try engine.submit(waitFor: waitFor) } catch {
            logger.error("I/O submission failed: \(error)")
        }
    }

    // MARK: Completions

    /// `flushingNotifications`: hand over interrupts queued on a shared ring (`LoopRingFileIO`) now,
    /// so the driver works on these completions while the device starts the next requests.
    private func reapAndSubmit(flushingNotifications: Bool = false) {
        repeat {
            if engine.pendingSubmissions > 0 { submit(waitFor: 0) }
            reap()
        } while engine.pendingSubmissions > 0
        for queue in touched { queue.notifyIfNeeded() }
        touched.removeAll(keepingCapacity: true)
        if flushingNotifications, engine.pendingSubmissions > 0 { submit(waitFor: 0) }
    }

    private func reap() {
        while let completion = engine.nextCompletion() { complete(completion) }
    }

    private func complete(_ completion: IOUring.Completion) {
        let slot = Int(completion.userData & 0xffff_ffff)
        let rangeIndex = Int(completion.userData >> 32)
        guard slot < inFlight.requests.count, inFlight[slot].pending > 0 else { return }
        let kind = inFlight[slot].kind
        let result = completion.result
        if result < 0 {
            if kind == .writeZeroes, result == -EOPNOTSUPP || result == -EINVAL, rangeIndex < inFlight[slot].ranges.count {
                // The file system cannot zero a range in place: write zeroes instead.
                let range = inFlight[slot].ranges[rangeIndex]
                do { try image.writeZeroes(offset: range.sector * 512, length: UInt64(range.sectorCount) * 512) } catch {
                    inFlight[slot].failed = true
                    statistics.ioErrors += 1
                    logIOError("write zeroes fallback: \(error)")
                }
            } else {
                inFlight[slot].failed = true
                statistics.ioErrors += 1
                logIOError("\(kind) failed: \(Errno(-result))")
            }
        } else if kind == .read || kind == .write, Int(result) != inFlight[slot].expected {
            inFlight[slot].failed = true
            statistics.ioErrors += 1
            logIOError("\(kind) moved \(result) of \(inFlight[slot].expected) bytes")
        }
        inFlight[slot].pending -= 1
        if inFlight[slot].pending > 0 { return }
        let failed = inFlight[slot].failed
        if inFlight[slot].syncAfter, !failed {
            inFlight[slot].syncAfter = false
            inFlight[slot].pending = 1
            prepare { engine.prepareDataSync(fd: image.file.rawValue, userData: UInt64(slot)) }
            return
        }
        let written = kind == .read && !failed ? inFlight[slot].expected + 1 : 1
        if let queue = inFlight[slot].queue, let chain = inFlight[slot].chain, let status = inFlight[slot].status {
            finish(queue: queue, head: chain.head, status: status, value: failed ? .ioError : .ok, written: written)
        }
        inFlight.release(slot)
    }

    private func finish(queue: DeviceQueue, head: UInt16, status: GuestSlice, value: BlockStatus, written: Int) {
        try? status.store(value.rawValue, at: 0)
        queue.complete(head: head, written: UInt32(written))
        if !touched.contains(where: { $0 === queue }) { touched.append(queue) }
    }

    private func waitForCompletions(while condition: () -> Bool) {
        while condition() {
            submit(waitFor: 1)
            reap()
        }
        for queue in touched { queue.notifyIfNeeded() }
        touched.removeAll(keepingCapacity: true)
    }

    private func logRefusal(_ message: String, count: Int) {
        // A guest can send these endlessly: the first few, then every power of two.
        if count <= 8 || count & (count - 1) == 0 { logger.warning("\(message) (\(count) so far)") }
    }

    /// A failing host disk fails every request a guest retries: sampled like refusals, the count in each line.
    private func logIOError(_ message: String) {
        let count = statistics.ioErrors
        if count <= 8 || count & (count - 1) == 0 { logger.error("\(message) (\(count) I/O errors so far)") }
    }
}
