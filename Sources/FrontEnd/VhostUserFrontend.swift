import GuestMemory
import SystemCalls
import VhostUser

/// The front-end (VMM) side of the vhost-user protocol, in Swift: drives a back end
/// without QEMU or a guest, for tests, benchmarks and conformance probes.
public final class VhostUserFrontend: @unchecked Sendable {
    public let channel: VhostUserChannel
    /// Protocol features in force after `setProtocolFeatures`.
    public private(set) var protocolFeatures: VhostUserProtocolFeatures = []

    public init(channel: VhostUserChannel) { self.channel = channel }

    /// Connects to a back end's socket, retrying for up to `timeoutSeconds` while it starts.
    public static func connect(to path: String, timeoutSeconds: Double = 5) throws -> VhostUserFrontend {
        let deadline = MonotonicClock.seconds() + timeoutSeconds
        while true {
            do {
                let socket = try UnixSocket.connect(to: path)
                let frontend = VhostUserFrontend(channel: VhostUserChannel(socket: socket))
                frontend.channel.setReceiveTimeout(seconds: 10)
                return frontend
            } catch {
                if MonotonicClock.seconds() > deadline { throw error }
                MonotonicClock.sleep(milliseconds: 20)
            }
        }
    }

    /// Sends a command; returns its reply when it has one (GET_*), or the REPLY_ACK
    /// status when `ack` is asked for and REPLY_ACK is negotiated.
    @discardableResult
    public func send(_ command: VhostUserCommand, ack: Bool = false) throws -> VhostUserMessage? {
        let (request, payload, descriptors) = command.encode()
        let wantAck = ack && protocolFeatures.contains(.replyAck) && !command.expectsReply
        try channel.send(VhostUserMessage(request: request.rawValue, flags: wantAck ? .needReply : [],
                                          payload: payload, descriptors: descriptors))
        guard command.expectsReply || wantAck else { return nil }
        return try receiveReply(to: request)
    }

    /// Sends raw bytes as a message (for malformed-input tests).
    public func sendRaw(request: UInt32, flags: VhostUserHeader.Flags = .version1, payload: [UInt8], descriptors: [FileDescriptor] = []) throws {
        let header = VhostUserHeader(request: request, flags: flags, size: UInt32(payload.count))
        try channel.socket.send(header.bytes + payload, descriptors: descriptors.map(\.rawValue))
    }

    public func receiveReply(to request: VhostUserRequest) throws -> VhostUserMessage {
        guard let reply = try channel.receive() else { throw VhostUserError.disconnected }
        guard reply.header.request == request.rawValue, reply.header.flags.contains(.reply) else {
            throw VhostUserError.unexpectedReply("\(reply.header.request) for \(request)")
        }
        return reply
    }

    /// Sends a command that wants REPLY_ACK and throws if the back end refused it.
    public func sendAcked(_ command: VhostUserCommand) throws {
        guard let reply = try send(command, ack: true) else { return }
        let status = try u64(reply)
        if status != 0 { throw VhostUserError.refused("\(command.encode().request) refused (status \(status))") }
    }

    public func u64(_ reply: VhostUserMessage) throws -> UInt64 {
        var r = ByteReader(reply.payload)
        guard reply.payload.count == 8 else { throw VhostUserError.wrongPayloadSize(request: "reply", size: reply.payload.count) }
        return try r.read(UInt64.self)
    }

    public func getFeatures() throws -> UInt64 { try u64(try send(.getFeatures)!) }
    public func getProtocolFeatures() throws -> VhostUserProtocolFeatures {
        VhostUserProtocolFeatures(rawValue: try u64(try send(.getProtocolFeatures)!))
    }
    public func setProtocolFeatures(_ features: VhostUserProtocolFeatures) throws {
        try send(.setProtocolFeatures(features.rawValue))
        protocolFeatures = features
    }
    public func getQueueNum() throws -> UInt64 { try u64(try send(.getQueueNum)!) }
    public func getMaxMemSlots() throws -> UInt64 { try u64(try send(.getMaxMemSlots)!) }

    /// GET_VRING_BASE: stops the ring and returns where the device stopped.
    public func getVringBase(_ index: UInt32) throws -> UInt32 {
        let reply = try send(.getVringBase(index: index))!
        var r = ByteReader(reply.payload)
        _ = try r.read(UInt32.self)
        return try r.read(UInt32.self)
    }

    /// GET_INFLIGHT_FD: the area's description and descriptor (none when the back end refused:
    /// a description of size 0).
    public func getInflightFD(queueCount: UInt16, queueSize: UInt16) throws -> (InflightDescription, FileDescriptor?) {
        let reply = try send(.getInflightFD(InflightDescription(queueCount: queueCount, queueSize: queueSize)))!
        guard reply.payload.count == InflightDescription.payloadSize else {
            throw VhostUserError.wrongPayloadSize(request: "GET_INFLIGHT_FD reply", size: reply.payload.count)
        }
        var r = ByteReader(reply.payload)
        let description = InflightDescription(mmapSize: try r.read(UInt64.self), mmapOffset: try r.read(UInt64.self),
                                              queueCount: try r.read(UInt16.self), queueSize: try r.read(UInt16.self))
        return (description, reply.descriptors.first)
    }

    /// GET_CONFIG; returns the bytes (empty if the back end failed the read).
    public func getConfig(offset: UInt32, size: UInt32) throws -> [UInt8] {
        let reply = try send(.getConfig(offset: offset, size: size, flags: 0))!
        var r = ByteReader(reply.payload)
        _ = try r.read(UInt32.self)
        let count = try r.read(UInt32.self)
        _ = try r.read(UInt32.self)
        return try r.readBytes(Int(count))
    }
}
