/// A virtio-vsock packet (VIRTIO 1.2 §5.10.6): the 44-byte little-endian header
/// `struct virtio_vsock_hdr` and, for RW, its payload.
public struct VsockPacket: Sendable, Equatable {
    public static let headerSize = 44
    public static let hostCID: UInt64 = 2
    public static let typeStream: UInt16 = 1

    public enum Operation: UInt16, Sendable {
        case request = 1, response = 2, reset = 3, shutdown = 4, readWrite = 5, creditUpdate = 6, creditRequest = 7
    }

    /// SHUTDOWN flags: the sender will receive / send no more.
    public static let shutdownReceive: UInt32 = 1
    public static let shutdownSend: UInt32 = 2

    public var sourceCID: UInt64
    public var destinationCID: UInt64
    public var sourcePort: UInt32
    public var destinationPort: UInt32
    public var type: UInt16 = VsockPacket.typeStream
    public var operation: UInt16
    public var flags: UInt32 = 0
    /// The sender's receive buffer size and the bytes it has consumed (credit, §5.10.6.3).
    public var bufferAllocation: UInt32 = 0
    public var forwardCount: UInt32 = 0
    public var payload: [UInt8] = []

    public init(sourceCID: UInt64, destinationCID: UInt64, sourcePort: UInt32, destinationPort: UInt32,
                operation: Operation, flags: UInt32 = 0, bufferAllocation: UInt32 = 0, forwardCount: UInt32 = 0,
                payload: [UInt8] = []) {
        self.sourceCID = sourceCID
        self.destinationCID = destinationCID
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.operation = operation.rawValue
        self.flags = flags
        self.bufferAllocation = bufferAllocation
        self.forwardCount = forwardCount
        self.payload = payload
    }

    public var op: Operation? { Operation(rawValue: operation) }

    /// The header bytes (len is the payload's length).
    public var header: [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(Self.headerSize)
        func put<T: FixedWidthInteger>(_ v: T) { for i in 0..<MemoryLayout<T>.size { b.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
        put(sourceCID); put(destinationCID); put(sourcePort); put(destinationPort); put(UInt32(payload.count))
        put(type); put(operation); put(flags); put(bufferAllocation); put(forwardCount)
        return b
    }

    /// Parses a header; `length` is the payload length it announces.
    public static func parse(header b: [UInt8]) -> (packet: VsockPacket, length: UInt32)? {
        guard b.count >= headerSize else { return nil }
        func get<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            (0..<MemoryLayout<T>.size).reduce(T.zero) { $0 | T(b[offset + $1]) << (8 * $1) }
        }
        var p = VsockPacket(sourceCID: get(0, UInt64.self), destinationCID: get(8, UInt64.self),
                            sourcePort: get(16, UInt32.self), destinationPort: get(20, UInt32.self), operation: .reset)
        p.type = get(28, UInt16.self)
        p.operation = get(30, UInt16.self)
        p.flags = get(32, UInt32.self)
        p.bufferAllocation = get(36, UInt32.self)
        p.forwardCount = get(40, UInt32.self)
        return (p, get(24, UInt32.self))
    }

    /// A RST answering `packet` (from its destination back to its source).
    public static func reset(answering packet: VsockPacket) -> VsockPacket {
        VsockPacket(sourceCID: packet.destinationCID, destinationCID: packet.sourceCID, sourcePort: packet.destinationPort,
                    destinationPort: packet.sourcePort, operation: .reset)
    }
}
