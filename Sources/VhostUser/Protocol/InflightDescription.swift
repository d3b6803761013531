import Virtio

/// The payload of GET_INFLIGHT_FD and SET_INFLIGHT_FD (vhost-user.rst, "Inflight description"):
/// where the inflight-tracking area lies in the descriptor sent along, and the queues it covers.
public struct InflightDescription: Equatable, Sendable {
    public var mmapSize: UInt64
    public var mmapOffset: UInt64
    public var queueCount: UInt16
    public var queueSize: UInt16

    /// QEMU's `VhostUserInflight` is not packed: its 20 bytes of fields travel padded to 24.
    public static let payloadSize = 24
    /// The fields without padding, as a packed implementation sends them (accepted as well).
    public static let packedSize = 20

    public init(mmapSize: UInt64 = 0, mmapOffset: UInt64 = 0, queueCount: UInt16, queueSize: UInt16) {
        self.mmapSize = mmapSize
        self.mmapOffset = mmapOffset
        self.queueCount = queueCount
        self.queueSize = queueSize
    }

    /// Where each queue's region lies and how many entries it has: the area split evenly among
    /// the queues (at most `maxQueueSize` entries' worth each), 16 bytes of header then 16 per
    /// entry. The back end makes areas for the largest queue it accepts, not for the queue size
    /// the front end names, because a driver may choose a larger ring than that (QEMU's
    /// virtio-mmio offers 1024 whatever vhost-user-blk's queue-size is). Nil if the area cannot
    /// hold `queueCount` regions of `queueSize` entries.
    public func layout(maxQueueSize: Int) -> (stride: Int, entries: Int)? {
        guard queueCount > 0, queueSize > 0 else { return nil }
        let share = mmapSize / UInt64(queueCount)
        let stride = Int(min(share, UInt64(InflightQueueRegion.size(queueSize: max(maxQueueSize, Int(queueSize))))))
        let entries = min(maxQueueSize, (stride - InflightQueueRegion.headerSize) / InflightQueueRegion.entrySize)
        guard stride >= InflightQueueRegion.size(queueSize: Int(queueSize)), entries >= Int(queueSize) else { return nil }
        return (stride, entries)
    }

    static func decode(_ payload: [UInt8], request: VhostUserRequest) throws(VhostUserError) -> InflightDescription {
        guard payload.count == payloadSize || payload.count == packedSize else {
            throw .wrongPayloadSize(request: "\(request)", size: payload.count)
        }
        var r = ByteReader(payload)
        return InflightDescription(mmapSize: try r.read(UInt64.self), mmapOffset: try r.read(UInt64.self),
                                   queueCount: try r.read(UInt16.self), queueSize: try r.read(UInt16.self))
    }

    /// The payload bytes, padded to `size` (24, or 20 to answer a packed peer in kind).
    public func encode(size: Int = payloadSize) -> [UInt8] {
        var w = ByteWriter()
        w.write(mmapSize); w.write(mmapOffset); w.write(queueCount); w.write(queueSize)
        return w.bytes + [UInt8](repeating: 0, count: max(0, size - Self.packedSize))
    }
}

