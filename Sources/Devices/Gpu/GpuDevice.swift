import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// virtio-gpu 2D (VIRTIO 1.2 §5.7) for one VM ({AVPS-v2.0-17} to {AVPS-v2.0-22}): a
/// control queue (0) and a cursor queue (1); EDID offered, VIRGL not ({AVPS-v2.0-19}).
/// The scanouts' modes and EDIDs are the host's (`DisplayMode`). Resources are this
/// VM's alone: one device per VM, so no guest can name another's ({AVPS-v2.0-26}).
/// Flushed scanouts are copied into `ScanoutFrame`s in server memory (or, for a scanout of a
/// whole resource, share its copy-on-write image) and handed to the sinks: QEMU's display (`VhostUserGpuDisplay`, over the socket the front end sends),
/// the compositor, screenshots.
public final class GpuDevice: VirtioDevice, DisplaySocketDevice, @unchecked Sendable {
    static let controlQueue = 0, cursorQueue = 1
    /// VIRTIO_GPU_F_EDID. RING_RESET and NOTIFY_ON_EMPTY are offered because QEMU's
    /// vhost-user-gpu passes the transport's own choice of them to SET_FEATURES.
    static let edidFeature = VirtioFeatures(bit: 1)
    /// Server memory for one VM's resource images, as QEMU's max_hostmem.
    public static let maxImageBytes = 256 << 20
    /// Largest resource side (Linux's KMS limit).
    public static let maxSide = 8192
    /// Resources of one VM (each costs a table entry even when tiny).
    public static let maxResources = 4096

    public let deviceType = VirtioDeviceType.gpu
    public let queueCount = 2
    public let maxQueueSize: UInt16 = 1024
    public let deviceFeatures: VirtioFeatures = [edidFeature, .ringReset, .notifyOnEmpty]
    public let configSize = 16

    /// The host's outputs, one scanout each.
    public let modes: [DisplayMode]
    /// What each scanout shows, in server memory.
    public let frames: [ScanoutFrame]
    private let logger: Logger
    private let name: String
    private var resources: [UInt32: GpuResource] = [:]
    private var imageBytes = 0
    /// Per scanout: the resource it shows and which part of it.
    private var scanouts: [(resource: UInt32, rect: GpuRect)?]
    private let sinks = Mutex<[ScanoutSink]>([])
    private var display: VhostUserGpuDisplay?
    private var refusals = LogSampler()
    private var controlQueueRan = false

    /// `modes`: 1 to 16 outputs; `name`: the display's name in its EDID.
    public init(modes: [DisplayMode], name: String = "AVP display", logger: Logger) {
        precondition((1...GpuResponse.maxScanouts).contains(modes.count), "1 to 16 scanouts")
        // The host's configuration was checked where it was read (GpuOutputOption, DisplayRules).
        precondition(modes.allSatisfy { $0.problem == nil }, "invalid display mode")
        self.modes = modes
        self.name = name
        self.logger = logger
        frames = modes.map { _ in ScanoutFrame() }
        scanouts = Array(repeating: nil, count: modes.count)
    }

    /// Adds a sink that sees every scanout change from now on (the compositor, a test).
    public func addSink(_ sink: ScanoutSink) { sinks.withLock { $0.append(sink) } }

    public func removeSink(_ sink: ScanoutSink) { sinks.withLock { $0.removeAll { $0 === sink } } }

    // MARK: VirtioDevice

    /// `virtio_gpu_config`: events_read, events_clear, num_scanouts, num_capsets (§5.7.4).
    /// QEMU's vhost-user-gpu replaces the event fields and num_scanouts with its own.
    public func readConfig(offset: Int, count: Int) -> [UInt8]? {
        var w = LittleEndianBytes()
        w.append(UInt32(0)); w.append(UInt32(0)); w.append(UInt32(modes.count)); w.append(UInt32(0))
        guard offset >= 0, count >= 0, offset <= configSize, count <= configSize - offset else { return nil }
        return Array(w.bytes[offset..<offset + count])
    }

    /// The driver writes events_clear; there are never events to clear (the host's modes are fixed).
    public func writeConfig(offset: Int, bytes: [UInt8]) -> Bool {
        offset >= 0 && bytes.count <= configSize && offset <= configSize - bytes.count
    }

    public func process(_ queue: DeviceQueue) {
        queue.drain { chain in
            queue.index == Self.cursorQueue ? cursor(chain, memory: queue.ring.memory) : control(chain, memory: queue.ring.memory)
        }
    }

    public func reset() {
        dropResources()
        display?.close()
        display = nil
    }

    /// QEMU stops and restarts the rings for a guest reboot and for a pause alike, without a
    /// device reset (no STATUS protocol feature): a control queue that starts over at index 0
    /// after it had run is a driver that starts over, with resource IDs from 1 again.
    public func queueStarted(_ queue: DeviceQueue) {
        guard queue.index == Self.controlQueue else { return }
        if controlQueueRan, queue.ring.nextAvailable == 0 { dropResources() }
        controlQueueRan = true
    }

    private func dropResources() {
        resources = [:]
        imageBytes = 0
        for i in scanouts.indices { disable(scanout: i) }
    }

    public func displaySocketAttached(_ socket: UnixSocket) {
        display?.close()
        if let old = display { removeSink(old) }
        do {
            let sink = try VhostUserGpuDisplay(socket: socket, scanouts: modes.count, logger: logger)
            display = sink
            addSink(sink)
            // A new socket is a new QEMU console state: show every live scanout again.
            for (i, frame) in frames.enumerated() where scanouts[i] != nil {
                sink.scanoutChanged(i, frame: frame)
                let size = frame.size
                sink.scanoutUpdated(i, rect: GpuRect.whole(width: size.width, height: size.height), frame: frame)
            }
        } catch {
            logger.error("\(name): cannot serve the VMM's display socket: \(error)")
        }
    }

    // MARK: Requests

    /// Answers one control request; returns the bytes written.
    func control(_ chain: DescriptorChain, memory: GuestMemory) -> Int {
        let request: GpuCommand.Request
        do {
            request = try GpuCommand.parse(read(chain))
        } catch {
            refused("malformed request: \(error)")
            return respond(chain, .error(.unspecified), to: GpuControlHeader(type: 0))
        }
        let response: GpuResponse
        do {
            response = try execute(request.command, memory: memory)
        } catch {
            refused("\(request.command) refused: \(error)")
            response = .error(error)
        }
        return respond(chain, response, to: request.header)
    }

    /// Cursor requests have no response buffer (§5.7.6.10).
    func cursor(_ chain: DescriptorChain, memory: GuestMemory) -> Int {
        guard let request = try? GpuCommand.parse(read(chain)) else {
            refused("malformed cursor request")
            return 0
        }
        switch request.command {
        case let .updateCursor(c):
            guard Int(c.scanout) < modes.count else { refused("cursor on scanout \(c.scanout)"); return 0 }
            let image = cursorImage(c)
            notify { $0.cursorChanged(Int(c.scanout), image: image) }
            notify { $0.cursorMoved(Int(c.scanout), x: c.x, y: c.y, visible: image != nil) }
        case let .moveCursor(c):
            guard Int(c.scanout) < modes.count else { refused("cursor on scanout \(c.scanout)"); return 0 }
            notify { $0.cursorMoved(Int(c.scanout), x: c.x, y: c.y, visible: c.resource != 0) }
        default:
            refused("\(request.command) on the cursor queue")
        }
        return 0
    }

    func execute(_ command: GpuCommand, memory: GuestMemory) throws(GpuError) -> GpuResponse {
        logger.trace("\(name): \(command)")
        switch command {
        case .getDisplayInfo:
            return .displayInfo(modes)
        case let .getEDID(scanout):
            guard Int(scanout) < modes.count else { throw .invalidParameter }
            return .edid(EDID.block(for: modes[Int(scanout)], name: name, serial: scanout))
        case let .resourceCreate2D(id, format, width, height):
            guard id != 0, resources[id] == nil else { throw .invalidResourceID }
            guard GpuResource.formats.contains(format) else { throw .invalidParameter }
            guard (1...UInt32(Self.maxSide)).contains(width), (1...UInt32(Self.maxSide)).contains(height) else { throw .invalidParameter }
            let bytes = Int(width) * Int(height) * GpuResource.bytesPerPixel
            guard resources.count < Self.maxResources, imageBytes + bytes <= Self.maxImageBytes else { throw .outOfMemory }
            resources[id] = GpuResource(id: id, format: format, width: Int(width), height: Int(height))
            imageBytes += bytes
        case let .resourceUnref(id):
            guard let resource = resources.removeValue(forKey: id) else { throw .invalidResourceID }
            imageBytes -= resource.imageBytes
            for i in scanouts.indices where scanouts[i]?.resource == id { disable(scanout: i) }
        case let .attachBacking(id, entries):
            guard let resource = resources[id] else { throw .invalidResourceID }
            try resource.attach(entries, memory: memory)
        case let .detachBacking(id):
            guard let resource = resources[id], resource.hasBacking else { throw .invalidResourceID }
            resource.detach()
        case let .transferToHost2D(id, rect, offset):
            guard let resource = resources[id] else { throw .invalidResourceID }
            try resource.transfer(rect, offset: offset, memory: memory)
        case let .setScanout(index, id, rect):
            guard Int(index) < modes.count else { throw .invalidScanoutID }
            try setScanout(Int(index), resource: id, rect: rect)
        case let .resourceFlush(id, rect):
            guard let resource = resources[id] else { throw .invalidResourceID }
            flush(resource, rect)
        case .updateCursor, .moveCursor, .unsupported:
            throw .unspecified
        }
        return .ok
    }

    private func setScanout(_ index: Int, resource id: UInt32, rect: GpuRect) throws(GpuError) {
        guard id != 0 else {
            disable(scanout: index)
            return
        }
        guard let resource = resources[id] else { throw .invalidResourceID }
        guard !rect.isEmpty, rect.fits(width: resource.width, height: resource.height) else { throw .invalidParameter }
        // A scanout is never larger than its output: the server's copy of it stays the mode's size.
        let mode = modes[index]
        guard Int(rect.width) <= mode.width, Int(rect.height) <= mode.height else { throw .invalidParameter }
        let previous = scanouts[index]?.resource
        scanouts[index] = (id, rect)
        updateShown(previous)
        resource.isShown = true
        let frame = frames[index]
        frame.reshape(width: Int(rect.width), height: Int(rect.height))
        copy(resource, rect, into: index, whole: true)
        notify { $0.scanoutChanged(index, frame: frame) }
        notify { $0.scanoutUpdated(index, rect: .whole(width: Int(rect.width), height: Int(rect.height)), frame: frame) }
    }

    /// Copies what changed into every scanout that shows `resource` and tells the sinks.
    private func flush(_ resource: GpuResource, _ rect: GpuRect) {
        // Everything transferred since the last such flush lies within `rect`: the resource's
        // image is exactly what its scanouts show after this flush.
        let exact = resource.unflushed.map { rect.intersection($0) == $0 } ?? true
        if exact { resource.unflushed = nil }
        for (index, scanout) in scanouts.enumerated() {
            guard let scanout, scanout.resource == resource.id, let changed = rect.intersection(scanout.rect) else { continue }
            copy(resource, changed, into: index, whole: exact)
            let local = GpuRect(x: changed.x - scanout.rect.x, y: changed.y - scanout.rect.y, width: changed.width, height: changed.height)
            notify { $0.scanoutUpdated(index, rect: local, frame: frames[index]) }
        }
    }

    /// Copies `area` (resource coordinates, within the scanout's rectangle) into the scanout's frame.
    ///
    /// When the whole of the resource's image may be shown (`whole`: SET_SCANOUT, or a flush that
    /// covers every transfer since the last one) and the scanout shows the whole resource (what
    /// Linux's driver does with a dumb buffer), the frame shows the resource's image buffer itself,
    /// which costs no copy: the frame holds it as it is now, and the resource's next
    /// TRANSFER_TO_HOST_2D goes to another buffer (`PixelStore`), so sinks keep what was
    /// flushed. A scanout never shows pixels transferred but not flushed (VIRTIO 1.2 §5.7.6.8).
    private func copy(_ resource: GpuResource, _ area: GpuRect, into index: Int, whole: Bool) {
        guard let scanout = scanouts[index] else { return }
        if whole, scanout.rect == .whole(width: resource.width, height: resource.height),
           frames[index].show(resource.pixels.buffer, width: resource.width, height: resource.height) {
            return
        }
        let local = GpuRect(x: area.x - scanout.rect.x, y: area.y - scanout.rect.y, width: area.width, height: area.height)
        let offset = Int(area.y) * resource.stride + Int(area.x) * GpuResource.bytesPerPixel
        frames[index].copy(local, from: resource.pixels.bytes, sourceOffset: offset, sourceStride: resource.stride)
    }

    /// Tells resource `id` (if any) whether a scanout still shows it, after a scanout changed.
    private func updateShown(_ id: UInt32?) {
        guard let id, let resource = resources[id] else { return }
        resource.isShown = scanouts.contains { $0?.resource == id }
    }

    private func disable(scanout index: Int) {
        let wasShown = scanouts[index] != nil
        let previous = scanouts[index]?.resource
        scanouts[index] = nil
        updateShown(previous)
        frames[index].reshape(width: 0, height: 0)
        if wasShown { notify { $0.scanoutChanged(index, frame: frames[index]) } }
    }

    /// A cursor image from a 64×64 resource of 4-byte pixels; nil hides the cursor.
    private func cursorImage(_ c: CursorRequest) -> CursorImage? {
        guard c.resource != 0 else { return nil }
        guard let resource = resources[c.resource], resource.width == CursorImage.side, resource.height == CursorImage.side else {
            refused("cursor resource \(c.resource) is not a 64x64 resource")
            return nil
        }
        return CursorImage(pixels: resource.image, hotX: min(c.hotX, 63), hotY: min(c.hotY, 63))
    }

    // MARK: Helpers

    private func read(_ chain: DescriptorChain) -> [UInt8] {
        var reader = chain.reader()
        return (try? reader.readBytes(min(reader.remaining, GpuCommand.maxRequestSize))) ?? []
    }

    private func respond(_ chain: DescriptorChain, _ response: GpuResponse, to header: GpuControlHeader) -> Int {
        let bytes = response.bytes(answering: header)
        var writer = chain.writer()
        guard writer.remaining >= bytes.count else {
            refused("response of \(bytes.count) bytes does not fit the driver's \(writer.remaining)-byte buffer")
            return 0
        }
        do { try writer.write(bytes) } catch { return 0 }
        return writer.written
    }

    private func notify(_ body: (ScanoutSink) -> Void) {
        for sink in sinks.withLock({ $0 }) { body(sink) }
    }

    private func refused(_ what: String) {
        if refusals.record() { logger.warning("\(name): \(what) (\(refusals.count) refused so far)") }
    }
}
