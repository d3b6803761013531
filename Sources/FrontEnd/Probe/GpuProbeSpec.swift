/// virtio-gpu wire formats the probe sends (VIRTIO 1.2 §5.7.6), encoded by the probe itself,
/// little-endian: every request starts with `struct virtio_gpu_ctrl_hdr` (24 bytes).
public enum GpuProbeSpec {
    public static let virglBit = 0
    public static let edidBit = 1
    public static let headerSize = 24
    public static let configSize = 16
    /// VIRTIO_GPU_MAX_SCANOUTS.
    public static let maxScanouts = 16
    /// `struct virtio_gpu_resp_display_info`: header and 16 × {rect, enabled, flags}.
    public static let displayInfoSize = headerSize + maxScanouts * 24
    /// `struct virtio_gpu_resp_edid`: header, size, padding, 1024 bytes.
    public static let edidResponseSize = headerSize + 8 + 1024
    /// VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM.
    public static let formatBGRX: UInt32 = 2

    public enum Command: UInt32, Sendable {
        case getDisplayInfo = 0x0100
        case resourceCreate2D = 0x0101
        case resourceUnref = 0x0102
        case setScanout = 0x0103
        case resourceFlush = 0x0104
        case transferToHost2D = 0x0105
        case resourceAttachBacking = 0x0106
        case getEDID = 0x010a
        case moveCursor = 0x0301
    }

    public static let okNoData: UInt32 = 0x1100
    public static let okDisplayInfo: UInt32 = 0x1101
    public static let okEDID: UInt32 = 0x1104

    /// A response type as the spec names it.
    public static func responseName(_ type: UInt32) -> String {
        switch type {
        case 0x1100: "OK_NODATA"
        case 0x1101: "OK_DISPLAY_INFO"
        case 0x1102: "OK_CAPSET_INFO"
        case 0x1103: "OK_CAPSET"
        case 0x1104: "OK_EDID"
        case 0x1200: "ERR_UNSPEC"
        case 0x1201: "ERR_OUT_OF_MEMORY"
        case 0x1202: "ERR_INVALID_SCANOUT_ID"
        case 0x1203: "ERR_INVALID_RESOURCE_ID"
        case 0x1204: "ERR_INVALID_CONTEXT_ID"
        case 0x1205: "ERR_INVALID_PARAMETER"
        default: "0x" + String(type, radix: 16)
        }
    }

    /// A request: the header for `command`, then `fields` as u32s.
    public static func request(_ command: Command, _ fields: [UInt32]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerSize)
        put(command.rawValue, into: &bytes, at: 0)
        for field in fields { append(field, to: &bytes) }
        return bytes
    }

    /// RESOURCE_ATTACH_BACKING with one entry `{addr, length, padding}`.
    public static func attachBacking(resource: UInt32, address: UInt64, length: UInt32) -> [UInt8] {
        var bytes = request(.resourceAttachBacking, [resource, 1])
        append(UInt32(truncatingIfNeeded: address), to: &bytes)
        append(UInt32(truncatingIfNeeded: address >> 32), to: &bytes)
        append(length, to: &bytes)
        append(0, to: &bytes)
        return bytes
    }

    /// TRANSFER_TO_HOST_2D: rect, offset (u64), resource id, padding.
    public static func transferToHost2D(resource: UInt32, width: UInt32, height: UInt32) -> [UInt8] {
        request(.transferToHost2D, [0, 0, width, height, 0, 0, resource, 0])
    }

    static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    static func put(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    /// The u32 at `offset`, or nil past the end.
    public static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32? {
        guard offset >= 0, offset + 4 <= bytes.count else { return nil }
        return (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
}
