import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// A simulated VMM plus guest driver: shared memfd RAM, a vhost-user front end and
/// driver-side queues. `GuestDriver.start` performs the message sequence QEMU sends
/// when a guest brings a device up.
public final class GuestDriver: @unchecked Sendable {
    /// Replaced by `reconnect(to:)`, as QEMU opens a new connection to a restarted back end.
    public internal(set) var frontend: VhostUserFrontend
    public let ram: SharedMemoryRegion
    public let memory: GuestMemory
    public private(set) var queues: [DriverQueue] = []
    public internal(set) var features: UInt64 = 0
    /// The inflight-tracking area the back end gave (`setUpInflight`), kept across reconnects.
    public internal(set) var inflight: InflightMemory?
    private var allocator: GuestAllocator

    /// Guest-physical base of the simulated RAM: not zero, so guest and host offsets never coincide.
    public static let defaultBase = GuestAddress(0x4000_0000)

    /// `sealableMemory`: RAM in a memfd that accepts seals, as QEMU's memory-backend-memfd.
    public init(frontend: VhostUserFrontend, memorySize: UInt64 = 16 << 20, base: GuestAddress = GuestDriver.defaultBase,
                sealableMemory: Bool = false) throws {
        self.frontend = frontend
        ram = try SharedMemoryRegion(guestAddress: base, size: memorySize, sealable: sealableMemory)
        memory = try GuestMemory(regions: [ram.region])
        allocator = GuestAllocator(base: base, size: memorySize)
    }

    /// Connects, negotiates everything the back end offers (or `features`), shares memory
    /// and starts `queueSizes.count` queues.
    /// With no `queueSizes`, the driver has negotiated and shared its RAM and starts no queue.
    public static func start(socketPath: String, queueSizes: [UInt16], features: UInt64? = nil,
                             memorySize: UInt64 = 16 << 20, sealableMemory: Bool = false) throws -> GuestDriver {
        let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: socketPath), memorySize: memorySize,
                                     sealableMemory: sealableMemory)
        try driver.negotiate(features: features)
        try driver.shareMemory()
        for (i, size) in queueSizes.enumerated() { try driver.startQueue(index: i, size: size) }
        return driver
    }

    /// GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER, SET_FEATURES. `inflight`: take
    /// INFLIGHT_SHMFD too if the back end offers it.
    public func negotiate(features wanted: UInt64? = nil, inflight: Bool = false) throws {
        let offered = try frontend.getFeatures()
        if offered & vhostUserProtocolFeaturesBit != 0 {
            let offeredProtocol = try frontend.getProtocolFeatures()
            var taken: VhostUserProtocolFeatures = [.replyAck, .multipleQueues, .config, .configureMemSlots, .resetDevice]
            if inflight { taken.insert(.inflightSharedMemory) }
            try frontend.setProtocolFeatures(offeredProtocol.intersection(taken))
        }
        try frontend.sendAcked(.setOwner)
        features = wanted ?? offered
        try frontend.sendAcked(.setFeatures(features))
    }

    /// SET_MEM_TABLE with the one memfd region.
    public func shareMemory() throws {
        try frontend.sendAcked(.setMemTable([ram.descriptor], [ram.file]))
    }

    /// SET_VRING_NUM/BASE/ADDR/CALL/KICK and, with protocol features, SET_VRING_ENABLE.
    @discardableResult
    public func startQueue(index: Int, size: UInt16) throws -> DriverQueue {
        let queue = try configureQueue(index: index, size: size)
        let i = UInt32(index)
        try frontend.sendAcked(.setVringKick(index: i, queue.kickEvent.descriptor))
        if features & vhostUserProtocolFeaturesBit != 0 {
            try frontend.sendAcked(.setVringEnable(index: i, enabled: true))
        }
        return queue
    }

    /// SET_VRING_NUM/BASE/ADDR/CALL: everything but the kick descriptor that starts the ring.
    public func configureQueue(index: Int, size: UInt16) throws -> DriverQueue {
        let queue = try DriverQueue(index: index, ring: DriverRing(size: size, memory: memory, allocator: &allocator))
        let i = UInt32(index)
        try frontend.sendAcked(.setVringNum(index: i, size: UInt32(size)))
        try frontend.sendAcked(.setVringBase(index: i, base: 0))
        try frontend.sendAcked(.setVringAddr(VringAddress(
            index: i, descriptorTable: frontendAddress(queue.ring.addresses.descriptorTable),
            usedRing: frontendAddress(queue.ring.addresses.usedRing),
            availableRing: frontendAddress(queue.ring.addresses.availableRing))))
        try frontend.sendAcked(.setVringCall(index: i, queue.callEvent.descriptor))
        if queues.count <= index { queues.append(queue) } else { queues[index] = queue }
        return queue
    }

    /// Zeroed guest memory for a buffer of `count` bytes.
    public func allocate(_ count: Int, alignment: Int = 16) throws -> GuestSlice {
        try memory.slice(at: try allocator.allocate(count, alignment: alignment), count: count)
    }

    /// The front-end (VMM) address of a guest address in the simulated RAM.
    public func frontendAddress(_ address: GuestAddress) -> FrontendAddress {
        FrontendAddress(address.raw - ram.descriptor.guestAddress.raw + ram.descriptor.frontendAddress.raw)
    }
}
