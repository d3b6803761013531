import SystemCalls

/// One message as it travels on the socket: header, payload and any file descriptors.
public struct VhostUserMessage: @unchecked Sendable {
    public var header: VhostUserHeader
    public var payload: [UInt8]
    public var descriptors: [FileDescriptor]

    public init(header: VhostUserHeader, payload: [UInt8], descriptors: [FileDescriptor] = []) {
        self.header = header
        self.payload = payload
        self.descriptors = descriptors
    }

    /// A message for `request` with a fresh header (version 1) sized to `payload`.
    public init(request: UInt32, flags: VhostUserHeader.Flags = [], payload: [UInt8] = [], descriptors: [FileDescriptor] = []) {
        self.init(header: VhostUserHeader(request: request, flags: flags.union(.version1), size: UInt32(payload.count)),
                  payload: payload, descriptors: descriptors)
    }

    public var request: VhostUserRequest? { VhostUserRequest(rawValue: header.request) }
    public var needsReply: Bool { header.flags.contains(.needReply) }

    /// Header (sized to the payload) and payload as they go on the socket; descriptors travel beside them.
    public var wireBytes: [UInt8] {
        var h = header
        h.size = UInt32(payload.count)
        return h.bytes + payload
    }

    /// Reply to this message carrying `payload`.
    public func reply(_ payload: [UInt8]) -> VhostUserMessage {
        VhostUserMessage(request: header.request, flags: .reply, payload: payload)
    }

    /// Reply carrying a u64 (GET_FEATURES, REPLY_ACK status, ...).
    public func reply(u64 value: UInt64) -> VhostUserMessage {
        var w = ByteWriter()
        w.write(value)
        return reply(w.bytes)
    }
}
