/// Messages of the vhost-user-gpu socket, the stream QEMU hands the back end with
/// VHOST_USER_GPU_SET_SOCKET (QEMU docs/interop/vhost-user-gpu.rst): a 12-byte header
/// `request u32, flags u32, size u32`, then `size` payload bytes, all in the host's native
/// byte order (little-endian on every host AVP runs on). Requests go from the back end to
/// QEMU with flags 0; QEMU's replies echo the request id with `VHOST_USER_GPU_MSG_FLAG_REPLY`.
public enum VhostUserGpuMessage {
    /// Request ids (vhost-user-gpu.rst, "Message types"; 11 and 12 are in QEMU ≥ 8).
    public enum Request: UInt32, Sendable {
        case getProtocolFeatures = 1
        case setProtocolFeatures = 2
        case getDisplayInfo = 3
        case cursorPosition = 4
        case cursorPositionHide = 5
        case cursorUpdate = 6
        case scanout = 7
        case update = 8
        case dmabufScanout = 9
        case dmabufUpdate = 10
        case getEDID = 11
        case dmabufScanout2 = 12
    }

    public static let headerSize = 12
    /// `VHOST_USER_GPU_MSG_FLAG_REPLY`, set on every message QEMU sends back.
    public static let replyFlag: UInt32 = 0x4
    /// `VhostUserGpuUpdate` before its pixels: scanout_id, x, y, width, height.
    public static let updateFixedSize = 20
    /// `VhostUserGpuCursorUpdate`: pos (12), hot_x, hot_y, then 64×64 u32 ARGB at offset 20.
    public static let cursorUpdateSize = 20 + cursorDataSize
    public static let cursorDataSize = CursorImage.side * CursorImage.side * 4

    /// The 12-byte header.
    public struct Header: Sendable, Equatable {
        public var request: UInt32
        public var flags: UInt32
        public var size: UInt32

        public init(request: UInt32, flags: UInt32 = 0, size: UInt32) {
            self.request = request
            self.flags = flags
            self.size = size
        }

        /// Reads a header from the first 12 bytes of `bytes` (nil if there are fewer).
        public init?(_ bytes: some RandomAccessCollection<UInt8>) {
            guard bytes.count >= VhostUserGpuMessage.headerSize else { return nil }
            let start = bytes.startIndex
            request = readU32(bytes, start, 0)
            flags = readU32(bytes, start, 4)
            size = readU32(bytes, start, 8)
        }

        public var isReply: Bool { flags & VhostUserGpuMessage.replyFlag != 0 }
        public var requestType: Request? { Request(rawValue: request) }
    }

    // MARK: Back end → QEMU

    /// VHOST_USER_GPU_SCANOUT {scanout_id, width, height}: QEMU makes a new `width`×`height`
    /// surface for the scanout (shown on the next UPDATE); 0×0 disables it.
    public static func scanout(_ scanout: UInt32, width: UInt32, height: UInt32) -> [UInt8] {
        message(.scanout, [scanout, width, height])
    }

    /// The header and fixed part of VHOST_USER_GPU_UPDATE for `rect`; exactly
    /// `rect.width * rect.height * 4` bytes of pixels must follow (QEMU reads that many
    /// whatever the size says, vhost-user-gpu.c `vhost_user_gpu_handle_display`), or nil
    /// when they would not fit the header's u32 size.
    public static func updatePrefix(_ scanout: UInt32, rect: GpuRect) -> [UInt8]? {
        let pixelBytes = UInt64(rect.width) * UInt64(rect.height) * 4
        guard pixelBytes + UInt64(updateFixedSize) <= UInt64(UInt32.max) else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(headerSize + updateFixedSize)
        append(&bytes, [Request.update.rawValue, 0, UInt32(pixelBytes) + UInt32(updateFixedSize)])
        append(&bytes, [scanout, rect.x, rect.y, rect.width, rect.height])
        return bytes
    }

    /// A whole VHOST_USER_GPU_UPDATE: `pixels` are tight rows of `rect.width * 4` bytes, B,G,R,X.
    public static func update(_ scanout: UInt32, rect: GpuRect, pixels: [UInt8]) -> [UInt8]? {
        guard UInt64(pixels.count) == UInt64(rect.width) * UInt64(rect.height) * 4,
              let prefix = updatePrefix(scanout, rect: rect) else { return nil }
        return prefix + pixels
    }

    /// VHOST_USER_GPU_CURSOR_POS (visible) or CURSOR_POS_HIDE {scanout_id, x, y}.
    public static func cursorPosition(_ scanout: UInt32, x: UInt32, y: UInt32, visible: Bool) -> [UInt8] {
        message(visible ? .cursorPosition : .cursorPositionHide, [scanout, x, y])
    }

    /// VHOST_USER_GPU_CURSOR_UPDATE: position, hot spot and the 64×64 image (u32 0xAARRGGBB,
    /// i.e. B,G,R,A bytes, as the guest's cursor resource); QEMU defines the cursor, then
    /// moves and shows it. An image of the wrong size is cut or padded with transparent pixels.
    public static func cursorUpdate(_ scanout: UInt32, x: UInt32, y: UInt32, image: CursorImage) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(headerSize + cursorUpdateSize)
        append(&bytes, [Request.cursorUpdate.rawValue, 0, UInt32(cursorUpdateSize)])
        append(&bytes, [scanout, x, y, image.hotX, image.hotY])
        bytes += image.pixels.prefix(cursorDataSize)
        if bytes.count < headerSize + cursorUpdateSize {
            bytes += repeatElement(0, count: headerSize + cursorUpdateSize - bytes.count)
        }
        return bytes
    }

    private static func message(_ request: Request, _ fields: [UInt32]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(headerSize + fields.count * 4)
        append(&bytes, [request.rawValue, 0, UInt32(fields.count * 4)])
        append(&bytes, fields)
        return bytes
    }

    private static func append(_ bytes: inout [UInt8], _ fields: [UInt32]) {
        for field in fields { withUnsafeBytes(of: field.littleEndian) { bytes += $0 } }
    }

    /// The u32 at `offset` of a payload (native LE), or nil past its end.
    public static func u32(_ payload: some RandomAccessCollection<UInt8>, at offset: Int) -> UInt32? {
        guard offset >= 0, offset + 4 <= payload.count else { return nil }
        return readU32(payload, payload.startIndex, offset)
    }
}

private func readU32<C: RandomAccessCollection<UInt8>>(_ bytes: C, _ start: C.Index, _ offset: Int) -> UInt32 {
    var value: UInt32 = 0
    for i in 0..<4 {
        value |= UInt32(bytes[bytes.index(start, offsetBy: offset + i)]) << (8 * i)
    }
    return value
}

/// Splits a vhost-user-gpu byte stream into messages, as they arrive in pieces.
///
/// The back end uses it to read and drop whatever QEMU sends (it asks nothing that needs a
/// reply, so any reply is unexpected); with `keepingPayloadsUpTo` 0 it holds at most one
/// header, whatever sizes the peer announces. Tests keep payloads to check what was sent.
public struct VhostUserGpuMessageDecoder: Sendable {
    public struct Message: Sendable {
        public var header: VhostUserGpuMessage.Header
        /// The payload, or empty when it was larger than the decoder keeps (then skipped).
        public var payload: [UInt8]
    }

    private let payloadLimit: Int
    private var header: [UInt8] = []
    private var current: VhostUserGpuMessage.Header?
    private var payload: [UInt8] = []
    private var remaining = 0

    /// Keeps payloads of at most `limit` bytes; larger ones are skipped (delivered empty).
    public init(keepingPayloadsUpTo limit: Int) { payloadLimit = max(0, limit) }

    /// Consumes `bytes`, calling `body` for every message completed by them.
    public mutating func feed(_ bytes: some Collection<UInt8>, _ body: (Message) -> Void) {
        var index = bytes.startIndex
        while index != bytes.endIndex {
            if let header = current {
                let available = bytes.distance(from: index, to: bytes.endIndex)
                let take = min(available, remaining)
                let end = bytes.index(index, offsetBy: take)
                if Int(header.size) <= payloadLimit { payload += bytes[index..<end] }
                index = end
                remaining -= take
            } else {
                header.append(bytes[index])
                index = bytes.index(after: index)
                guard header.count == VhostUserGpuMessage.headerSize else { continue }
                current = VhostUserGpuMessage.Header(header)
                header.removeAll(keepingCapacity: true)
                remaining = Int(current!.size)
                if Int(current!.size) <= payloadLimit { payload.reserveCapacity(remaining) }
            }
            if let done = current, remaining == 0 {
                body(Message(header: done, payload: payload))
                current = nil
                payload = []
            }
        }
    }

    /// Whether a message has begun but not ended.
    public var isInsideMessage: Bool { current != nil || !header.isEmpty }
}
