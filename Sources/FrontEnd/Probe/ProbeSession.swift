import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// One vhost-user connection set up the way QEMU brings a device up, recording what the
/// back end offered: the probes' only way in.
public final class ProbeSession {
    public let socketPath: String
    public let driver: GuestDriver
    public let options: ProbeOptions
    /// GET_FEATURES as offered (including VHOST_USER_F_PROTOCOL_FEATURES, bit 30).
    public let offeredFeatures: UInt64
    /// GET_PROTOCOL_FEATURES, or empty when bit 30 was not offered.
    public let offeredProtocolFeatures: VhostUserProtocolFeatures
    /// What the probe accepted with SET_FEATURES.
    public let negotiatedFeatures: UInt64
    /// GET_QUEUE_NUM when MQ was offered.
    public let queueNum: UInt64?

    /// Ring features the Swift driver implements; device-specific bits (0-23) are all taken,
    /// anything else (packed rings, IOMMU, notification data) is refused as QEMU would refuse it
    /// for a device it cannot drive.
    static let driverTransportFeatures: VirtioFeatures = [.version1, .ringIndirectDescriptors, .ringEventIndex]
    static let deviceSpecificMask: UInt64 = (1 << 24) - 1

    /// Connects, negotiates and shares `memorySize` bytes of RAM; starts no queue.
    /// `acceptFeatures` may drop device bits from what is taken (never add any).
    public init(socket: String, options: ProbeOptions, memorySize: UInt64 = 8 << 20,
                acceptFeatures: (UInt64) -> UInt64 = { $0 }) throws(ProbeError) {
        socketPath = socket
        self.options = options
        let frontend: VhostUserFrontend
        do { frontend = try VhostUserFrontend.connect(to: socket, timeoutSeconds: options.connectTimeoutSeconds) }
        catch { throw .connectFailed(socket: socket, reason: "\(error)") }
        do { driver = try GuestDriver(frontend: frontend, memorySize: memorySize, sealableMemory: true) }
        catch { throw .handshakeFailed(step: "guest memory", reason: "\(error)") }

        func step<T>(_ name: String, _ body: () throws -> T) throws(ProbeError) -> T {
            do { return try body() } catch { throw .handshakeFailed(step: name, reason: "\(error)") }
        }
        offeredFeatures = try step("GET_FEATURES") { try frontend.getFeatures() }
        offeredProtocolFeatures = offeredFeatures & vhostUserProtocolFeaturesBit != 0
            ? try step("GET_PROTOCOL_FEATURES") { try frontend.getProtocolFeatures() } : []
        let takeable = (offeredFeatures & Self.deviceSpecificMask)
            | (offeredFeatures & (Self.driverTransportFeatures.rawValue | vhostUserProtocolFeaturesBit))
        negotiatedFeatures = acceptFeatures(takeable) & takeable
        // GuestDriver.negotiate: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER, SET_FEATURES.
        let (guest, features) = (driver, negotiatedFeatures)
        try step("SET_PROTOCOL_FEATURES, SET_OWNER, SET_FEATURES") { try guest.negotiate(features: features) }
        queueNum = offeredProtocolFeatures.contains(.multipleQueues) ? try step("GET_QUEUE_NUM") { try frontend.getQueueNum() } : nil
        try step("SET_MEM_TABLE") { try guest.shareMemory() }
    }

    deinit { driver.frontend.channel.socket.shutdown() }

    /// Whether device feature `bit` was offered.
    public func offers(bit: Int) -> Bool { offeredFeatures & (1 << UInt64(bit)) != 0 }

    /// The protocol feature names offered, for evidence lines.
    public var featureEvidence: [String] {
        var lines = ["features offered: 0x\(String(offeredFeatures, radix: 16)) (VERSION_1 \(yes(offers(bit: 32))))"]
        if offeredFeatures & vhostUserProtocolFeaturesBit != 0 {
            lines.append("protocol features offered: \(offeredProtocolFeatures) (CONFIG \(yes(offeredProtocolFeatures.contains(.config)))"
                + ", MQ \(yes(offeredProtocolFeatures.contains(.multipleQueues))))")
        } else {
            lines.append("protocol features: not offered (no VHOST_USER_F_PROTOCOL_FEATURES)")
        }
        if let queueNum { lines.append("GET_QUEUE_NUM: \(queueNum)") }
        return lines
    }

    /// Starts queue `index` (SET_VRING_* and, with protocol features, SET_VRING_ENABLE).
    public func startQueue(_ index: Int, size: UInt16 = 64) throws(ProbeError) -> DriverQueue {
        do { return try driver.startQueue(index: index, size: size) }
        catch { throw .handshakeFailed(step: "starting queue \(index)", reason: "\(error)") }
    }

    /// GET_CONFIG of `size` bytes at `offset`, or why it failed.
    public func readConfig(offset: UInt32 = 0, size: UInt32) -> Result<[UInt8], ProbeStepFailure> {
        guard offeredProtocolFeatures.contains(.config) else { return .failure(.init("VHOST_USER_PROTOCOL_F_CONFIG not offered")) }
        do {
            let bytes = try driver.frontend.getConfig(offset: offset, size: size)
            return bytes.count == Int(size) ? .success(bytes)
                : .failure(.init("GET_CONFIG(\(offset), \(size)) returned \(bytes.count) bytes"))
        } catch {
            return .failure(.init("GET_CONFIG: \(error)"))
        }
    }

    /// Zeroed guest memory for a buffer.
    public func buffer(_ count: Int) throws(ProbeError) -> GuestSlice {
        do { return try driver.allocate(count, alignment: 4096) }
        catch { throw .handshakeFailed(step: "allocating \(count) bytes of guest memory", reason: "\(error)") }
    }

    /// Puts one chain on `queue`, kicks, and waits for the back end to return it: the used
    /// length, or why not.
    public func exchange(on queue: DriverQueue, readable: [GuestSlice], writable: [GuestSlice]) -> Result<UInt32, ProbeStepFailure> {
        do {
            let head = try queue.ring.add(readable: readable, writable: writable)
            queue.kick()
            let used = try queue.waitForUsed(count: 1, timeoutMilliseconds: options.requestTimeoutMilliseconds)
            guard let element = used.first else {
                return .failure(.init("no answer within \(options.requestTimeoutMilliseconds) ms"))
            }
            guard element.head == head else { return .failure(.init("used entry for head \(element.head), expected \(head)")) }
            return .success(element.length)
        } catch {
            return .failure(.init("\(error)"))
        }
    }
}

/// A step of a probe that did not work, as evidence.
public struct ProbeStepFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

func yes(_ flag: Bool) -> String { flag ? "yes" : "no" }
