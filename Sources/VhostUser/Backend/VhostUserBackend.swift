import GuestMemory
import Logging
import SystemCalls
import Virtio

/// The vhost-user back-end protocol state machine for one device and one front-end
/// connection: feature and memory negotiation, ring setup, and dispatch of kicks to
/// the device. Has no socket or thread of its own (`VhostUserServer` supplies them),
/// so every message sequence can be unit-tested directly.
public final class VhostUserBackend: @unchecked Sendable {
    /// Protocol features AVP implements for every device.
    public static let supportedProtocolFeatures: VhostUserProtocolFeatures = [
        .multipleQueues, .replyAck, .resetDevice, .configureMemSlots,
    ]
    /// Memory slots reported to GET_MAX_MEM_SLOTS.
    public static let maxMemorySlots = UInt64(GuestMemory.maxRegions)

    public let device: VirtioDevice
    let logger: Logger
    var vrings: [Vring]
    var protocolFeatures: VhostUserProtocolFeatures = []
    /// INFLIGHT_SHMFD: the area SET_INFLIGHT_FD handed over (VhostUserBackend+Inflight.swift).
    var inflightArea: InflightArea?
    private var ackedFeatures: VirtioFeatures?
    private var memory = GuestMemory.empty
    private var status: DeviceStatus = []

    public init(device: VirtioDevice, logger: Logger) {
        self.device = device
        self.logger = logger
        vrings = (0..<device.queueCount).map { Vring(index: $0) }
    }

    /// Protocol features offered: CONFIG only for a device with a configuration space
    /// (QEMU warns about an offer its device model cannot use), CRYPTO_SESSION only for a
    /// device that keeps crypto sessions, INFLIGHT_SHMFD only for a device whose requests may be done twice.
    public var offeredProtocolFeatures: VhostUserProtocolFeatures {
        var offered = Self.supportedProtocolFeatures
        if device.configSize > 0 { offered.insert(.config) }
        if device is CryptoSessionDevice { offered.insert(.cryptoSession) }
        if device is InflightTrackingDevice { offered.insert(.inflightSharedMemory) }
        return offered
    }

    /// Virtio features offered to the front end (GET_FEATURES).
    public var offeredFeatures: UInt64 {
        device.deviceFeatures.rawValue | VirtioFeatures.transport.rawValue | vhostUserProtocolFeaturesBit
    }

    /// Features the driver accepted, without the vhost-user protocol bit; nil before SET_FEATURES.
    public var negotiatedFeatures: VirtioFeatures? { ackedFeatures }

    /// The status the driver set, with DEVICE_NEEDS_RESET once a queue has failed (VIRTIO 1.2 §2.1.2).
    public var currentStatus: DeviceStatus {
        vrings.contains { $0.queue?.isBroken == true } ? status.union(.needsReset) : status
    }

    /// Call eventfds are written through the server loop's ring from now on (`Vring.signalUsed`).
    func writeCalls(through ring: EventLoopRing) {
        vrings = (0..<device.queueCount).map { Vring(index: $0, callWrites: ring) }
    }

    /// Kick descriptors of started, enabled rings: what the event loop must watch.
    public var activeKicks: [(queue: Int, fd: Int32)] {
        vrings.compactMap { ring in
            guard ring.isStarted, ring.enabled, let kick = ring.kick else { return nil }
            return (ring.index, kick.rawValue)
        }
    }

    /// Started queues (index → queue), for inspection by tests and metrics.
    public var startedQueues: [Int: DeviceQueue] {
        Dictionary(uniqueKeysWithValues: vrings.compactMap { r in r.queue.map { (r.index, $0) } })
    }

    // MARK: Messages

    /// Handles one message and returns the reply to send, if any. A thrown error is a
    /// protocol violation after which the connection must be closed.
    public func handle(_ message: VhostUserMessage) throws(VhostUserError) -> VhostUserMessage? {
        let command = try VhostUserCommand.decode(message)
        if case let .getInflightFD(wanted) = command {
            // The one reply that carries a descriptor.
            let (description, file) = inflightAreaForFrontEnd(wanted)
            var reply = message.reply(description.encode(size: message.payload.count))
            reply.descriptors = file.map { [$0] } ?? []
            return reply
        }
        var result: [UInt8]?
        var failure: VhostUserError?
        do {
            result = try execute(command)
        } catch {
            failure = error
            logger.warning("\(message.request.map { "\($0)" } ?? "request \(message.header.request)") refused: \(error)")
        }
        if command.expectsReply {
            guard let result else { throw failure ?? .refused("no reply") }
            return message.reply(result)
        }
        if protocolFeatures.contains(.replyAck), message.needsReply {
            return message.reply(u64: failure == nil ? 0 : 1)
        }
        return nil
    }

    /// Runs a command; returns the payload of its reply for requests that have one.
    private func execute(_ command: VhostUserCommand) throws(VhostUserError) -> [UInt8]? {
        switch command {
        case .getFeatures:
            return u64(offeredFeatures)
        case let .setFeatures(value):
            try setFeatures(value)
        case .setOwner:
            break
        case .resetOwner, .resetDevice:
            resetDevice()
        case let .setMemTable(regions, files):
            var mapped: [MappedRegion] = []
            for (descriptor, file) in zip(regions, files) {
                mapped.append(try map(descriptor, file))
            }
            try replaceMemory(try wrap { () throws(GuestMemoryError) in try GuestMemory(regions: mapped) })
        case let .addMemReg(descriptor, file):
            let region = try map(descriptor, file)
            try replaceMemory(try wrap { () throws(GuestMemoryError) in try memory.adding(region) })
        case let .remMemReg(descriptor):
            guard let smaller = memory.removing(descriptor) else {
                throw .refused("no memory region at \(descriptor.guestAddress) of \(descriptor.size) bytes")
            }
            try replaceMemory(smaller)
        case .getMaxMemSlots:
            return u64(Self.maxMemorySlots)
        case .getQueueNum:
            return u64(UInt64(device.queueCount))
        case .getProtocolFeatures:
            return u64(offeredProtocolFeatures.rawValue)
        case let .setProtocolFeatures(value):
            let wanted = VhostUserProtocolFeatures(rawValue: value)
            guard offeredProtocolFeatures.isSuperset(of: wanted) else {
                throw .refused("protocol features \(wanted) include unsupported \(wanted.subtracting(offeredProtocolFeatures))")
            }
            protocolFeatures = wanted
        case let .setVringNum(index, size):
            let ring = try vring(index)
            guard !ring.isStarted else { throw .refused("SET_VRING_NUM on started queue \(index)") }
            guard size >= 1, size <= UInt32(device.maxQueueSize), size & (size - 1) == 0 else {
                throw .refused("queue \(index) size \(size): must be a power of two up to \(device.maxQueueSize)")
            }
            ring.size = size
        case let .setVringAddr(address):
            let ring = try vring(address.index)
            ring.address = address
            if let queue = ring.queue {
                do { try queue.ring.rebind(addresses: try translate(address, size: ring.size), memory: memory) } catch {
                    queue.fail(error)
                }
            }
        case let .setVringBase(index, base):
            let ring = try vring(index)
            guard !ring.isStarted else { throw .refused("SET_VRING_BASE on started queue \(index)") }
            guard base <= UInt32(UInt16.max) else { throw .refused("queue \(index) base \(base) over 65535") }
            ring.base = UInt16(base)
        case let .getVringBase(index):
            let ring = try vring(index)
            if let queue = ring.queue {
                device.queueStopped(index: ring.index)
                ring.base = queue.ring.nextAvailable
                ring.queue = nil
            }
            ring.kick = nil
            var w = ByteWriter()
            w.write(index)
            w.write(UInt32(ring.base))
            return w.bytes
        case let .setVringKick(index, fd):
            let ring = try vring(index)
            guard let fd else { throw .refused("queue \(index): polling without a kick descriptor is not supported") }
            ring.kick = try notifier(fd, "kick", index)
            try startIfReady(ring)
        case let .setVringCall(index, fd):
            let ring = try vring(index)
            ring.setCall(try fd.map { (fd) throws(VhostUserError) in try notifier(fd, "call", index) })
        case let .setVringErr(index, fd):
            let ring = try vring(index)
            ring.setError(try fd.map { (fd) throws(VhostUserError) in try notifier(fd, "error", index) })
        case let .setVringEnable(index, enabled):
            let ring = try vring(index)
            ring.enabled = enabled
            if enabled { kick(queue: ring.index) }
        case let .getConfig(offset, size, flags):
            var w = ByteWriter()
            w.write(offset)
            guard let bytes = device.readConfig(offset: Int(offset), count: Int(size)), bytes.count == Int(size) else {
                // An empty config payload tells the front end the read failed.
                w.write(UInt32(0)); w.write(flags)
                logger.warning("GET_CONFIG offset \(offset) size \(size) outside the configuration space")
                return w.bytes
            }
            w.write(size); w.write(flags); w.write(bytes: bytes)
            return w.bytes
        case let .setConfig(offset, _, bytes):
            guard device.writeConfig(offset: Int(offset), bytes: bytes) else {
                throw .refused("SET_CONFIG of \(bytes.count) bytes at \(offset) refused by the device")
            }
        case let .setStatus(value):
            status = DeviceStatus(rawValue: value)
            if status.isEmpty { resetDevice() }
        case .getStatus:
            return u64(UInt64(currentStatus.rawValue))
        case .setBackendReqFD:
            // Not advertised (no BACKEND_REQ); the descriptor is closed with the message.
            break
        case let .gpuSetSocket(fd):
            guard let display = device as? DisplaySocketDevice else { throw .refused("GPU_SET_SOCKET for a \(device.deviceType) device") }
            display.displaySocketAttached(UnixSocket(adopting: fd))
        case let .createCryptoSession(payload):
            // QEMU waits for a reply of the size it sent; all bytes 0xFF read as session id -1 in every layout.
            let refusal = [UInt8](repeating: 0xFF, count: payload.count)
            guard let crypto = device as? CryptoSessionDevice else {
                logger.warning("CREATE_CRYPTO_SESSION for a \(device.deviceType) device: answered with session id -1")
                return refusal
            }
            let reply = crypto.createCryptoSession(payload)
            return reply.count == payload.count ? reply : refusal
        case let .closeCryptoSession(id):
            guard let crypto = device as? CryptoSessionDevice else { throw .refused("CLOSE_CRYPTO_SESSION for a \(device.deviceType) device") }
            guard crypto.closeCryptoSession(id) else { throw .refused("CLOSE_CRYPTO_SESSION: no session \(id)") }
        case let .vringKick(index):
            _ = try vring(index)
            kick(queue: Int(index))
        case .getInflightFD:
            throw .refused("GET_INFLIGHT_FD is answered by handle(_:)")
        case let .setInflightFD(description, file):
            try setInflightArea(description, file)
        case let .unsupported(request):
            throw .refused("\(request) is not supported")
        }
        return nil
    }

    // MARK: Kicks and lifecycle

    /// Stops every started queue with DEVICE_NEEDS_RESET if a SIGBUS hit this front end's memory
    /// (it shrank the file behind a region; the guard in guard.c absorbed the fault). Returns what
    /// happened, or nil if the memory is intact. The connection must then be closed: nothing the
    /// front end shares can be trusted any more.
    public func checkMemoryFault() -> String? {
        if let area = inflightArea, area.hasFaulted {
            for ring in vrings { ring.queue?.fail(.inflightRegion("the front end shrank the file behind it")) }
            return "the inflight area (\(area.description.mmapSize) bytes) faulted: the front end shrank the file behind it"
        }
        guard let region = memory.faultedRegion else { return nil }
        for ring in vrings { ring.queue?.fail(.memoryFault(region.guestAddress)) }
        return "guest memory at \(region.guestAddress) (\(region.size) bytes) faulted: the front end shrank the file behind it"
    }

    /// The driver kicked `queue`: let the device process it.
    ///
    /// The kick eventfd is not read. `VhostUserServer` watches it edge-triggered, and an eventfd
    /// wakes its waiters on every write, so each kick is an event whether or not the counter was
    /// cleared; that saves a read(2) per kick (bench/block-syscalls: 4 system calls per request at
    /// queue depth 1 against qemu-storage-daemon's 2). The counter only grows; a front end that
    /// writes it to its maximum stops only its own kicks (eventfd(2) refuses what would overflow).
    public func kick(queue index: Int) {
        guard vrings.indices.contains(index) else { return }
        let ring = vrings[index]
        guard ring.enabled, let queue = ring.queue, !queue.isBroken else { return }
        device.process(queue)
    }

    /// The front end went away: stop every ring, drop memory and negotiated state.
    public func disconnect() {
        resetDevice()
        memory = .empty
        protocolFeatures = []
        inflightArea = nil
    }

    private func resetDevice() {
        for ring in vrings {
            if ring.isStarted { device.queueStopped(index: ring.index) }
            ring.reset()
        }
        ackedFeatures = nil
        status = []
        device.reset()
    }

    /// QEMU's cryptodev-vhost never forwards the driver's features (SET_FEATURES carries none) and
    /// never sends SET_VRING_ENABLE. Its virtio-crypto-pci is modern-only, so the driver did accept
    /// VERSION_1 there; its ring runs once started; and whether the driver took INDIRECT_DESC or
    /// EVENT_IDX is unknown here (`SplitQueue.driverFeaturesUnknown`).
    private var frontEndWithholdsDriverFeatures: Bool { device is CryptoSessionDevice }

    private func setFeatures(_ value: UInt64) throws(VhostUserError) {
        guard value & ~offeredFeatures == 0 else {
            throw .refused("features 0x\(String(value, radix: 16)) include some not offered (offered 0x\(String(offeredFeatures, radix: 16)))")
        }
        var features = VirtioFeatures(rawValue: value & ~vhostUserProtocolFeaturesBit)
        if frontEndWithholdsDriverFeatures { features.insert(.version1) }
        // VIRTIO 1.2 §6.1: a modern-only device refuses a driver that did not accept VERSION_1.
        guard features.contains(.version1) else {
            ackedFeatures = nil
            throw .refused("the driver did not accept VIRTIO_F_VERSION_1 (legacy virtio is not supported; "
                + "with virtio-mmio pass -global virtio-mmio.force-legacy=false)")
        }
        ackedFeatures = features
        if value & vhostUserProtocolFeaturesBit == 0 || frontEndWithholdsDriverFeatures {
            // Without protocol features rings start enabled (vhost-user.rst, "Ring states").
            for ring in vrings { ring.enabled = true }
        }
        device.acknowledge(features: features)
    }

    private func startIfReady(_ ring: Vring) throws(VhostUserError) {
        guard !ring.isStarted else { return }
        guard let features = ackedFeatures else { throw .refused("queue \(ring.index): no accepted features (SET_FEATURES with VERSION_1)") }
        guard ring.size > 0, let address = ring.address else { throw .refused("queue \(ring.index) started before SET_VRING_NUM/ADDR") }
        do {
            let split = try SplitQueue(size: ring.size, addresses: try translate(address, size: ring.size),
                                       memory: memory, features: features, nextAvailable: ring.base,
                                       driverFeaturesUnknown: frontEndWithholdsDriverFeatures)
            let queue = DeviceQueue(index: ring.index, ring: split, notifier: ring, logger: logger)
            ring.queue = queue
            if let failure = attachInflight(split, queue: ring.index) {
                queue.fail(failure)
            } else if split.inflight == nil, split.nextUsed != ring.base {
                logger.warning("queue \(ring.index): used index \(split.nextUsed) behind base \(ring.base); requests in flight were lost")
            }
        } catch {
            ring.signalError()
            throw .refused("queue \(ring.index): \(error)")
        }
        device.queueStarted(ring.queue!)
        kick(queue: ring.index)
    }

    /// Ring addresses from the front end's address space into guest-physical ones.
    private func translate(_ a: VringAddress, size: UInt32) throws(QueueError) -> RingAddresses {
        let n = Int(size)
        func part(_ name: String, _ address: FrontendAddress, _ length: Int) throws(QueueError) -> GuestAddress {
            do { return try memory.guestAddress(of: address, length: UInt64(length)) } catch {
                throw .ringUnmapped(part: name, error)
            }
        }
        return RingAddresses(descriptorTable: try part("descriptor table", a.descriptorTable, RingAddresses.descriptorTableSize(n)),
                             availableRing: try part("available ring", a.availableRing, RingAddresses.availableRingSize(n)),
                             usedRing: try part("used ring", a.usedRing, RingAddresses.usedRingSize(n)))
    }

    private func replaceMemory(_ newMemory: GuestMemory) throws(VhostUserError) {
        memory = newMemory
        for ring in vrings {
            guard let queue = ring.queue, let address = ring.address else { continue }
            do { try queue.ring.rebind(addresses: try translate(address, size: ring.size), memory: newMemory) } catch {
                queue.fail(error)
            }
        }
    }

    private func map(_ descriptor: MemoryRegionDescriptor, _ file: FileDescriptor) throws(VhostUserError) -> MappedRegion {
        try wrap { () throws(GuestMemoryError) in try MappedRegion(descriptor: descriptor, file: file) }
    }

    private func wrap<T>(_ body: () throws(GuestMemoryError) -> T) throws(VhostUserError) -> T {
        do { return try body() } catch { throw .refused("memory: \(error)") }
    }

    /// A kick, call or error descriptor from the front end, refused unless it is an eventfd, and made
    /// non-blocking so no read or write of it can stop the server's thread.
    private func notifier(_ fd: FileDescriptor, _ role: String, _ index: UInt32) throws(VhostUserError) -> EventFD {
        do { return try EventFD(validating: fd) } catch { throw .refused("queue \(index) \(role) descriptor: \(error)") }
    }

    private func vring(_ index: UInt32) throws(VhostUserError) -> Vring {
        guard index < UInt32(vrings.count) else { throw .invalidQueueIndex(index) }
        return vrings[Int(index)]
    }

    private func u64(_ value: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.write(value)
        return w.bytes
    }
}
