/// The 12-byte header every vhost-user message starts with: le32 request,
/// le32 flags, le32 payload size (vhost-user.rst, "Message Specification").
public struct VhostUserHeader: Equatable, Sendable {
    public static let size = 12
    /// Largest payload accepted; the biggest standard one (a 32-slot memory table) is 1032 bytes.
    public static let maxPayload = 4096

    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Protocol version 1, the only one defined.
        public static let version1 = Flags(rawValue: 0x1)
        public static let versionMask = Flags(rawValue: 0x3)
        public static let reply = Flags(rawValue: 0x4)
        public static let needReply = Flags(rawValue: 0x8)
    }

    public var request: UInt32
    public var flags: Flags
    public var size: UInt32

    public init(request: UInt32, flags: Flags, size: UInt32) {
        self.request = request
        self.flags = flags
        self.size = size
    }

    public init(bytes: [UInt8]) throws(VhostUserError) {
        guard bytes.count == Self.size else { throw .truncated(expected: Self.size, got: bytes.count) }
        var r = ByteReader(bytes)
        request = try r.read()
        flags = Flags(rawValue: try r.read())
        size = try r.read()
        guard flags.rawValue & Flags.versionMask.rawValue == Flags.version1.rawValue else {
            throw .badVersion(flags.rawValue)
        }
        guard size <= UInt32(Self.maxPayload) else { throw .payloadTooLarge(size) }
    }

    public var bytes: [UInt8] {
        var w = ByteWriter()
        w.write(request)
        w.write(flags.rawValue)
        w.write(size)
        return w.bytes
    }
}
