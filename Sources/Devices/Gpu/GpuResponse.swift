/// What the device answers a control request (VIRTIO 1.2 §5.7.6.7, response types).
public enum GpuResponse: Sendable, Equatable {
    case ok
    /// One `virtio_gpu_display_one` per scanout (at most 16): its size, all enabled.
    case displayInfo([DisplayMode])
    /// An EDID blob (at most 1024 bytes).
    case edid([UInt8])
    case error(GpuError)

    public static let maxScanouts = 16

    public var type: UInt32 {
        switch self {
        case .ok: 0x1100
        case .displayInfo: 0x1101
        case .edid: 0x1104
        case let .error(e): e.rawValue
        }
    }

    /// The response's bytes after `header` (the request's), sized as the driver's buffer expects:
    /// 24 for NODATA and errors, 408 for display info, 1056 for EDID.
    public func bytes(answering header: GpuControlHeader) -> [UInt8] {
        var w = LittleEndianBytes()
        w.append(bytes: header.response(type).bytes)
        switch self {
        case .ok, .error:
            break
        case let .displayInfo(modes):
            for i in 0..<Self.maxScanouts {
                let mode = i < modes.count ? modes[i] : nil
                w.append(UInt32(0)); w.append(UInt32(0))
                w.append(UInt32(mode?.width ?? 0)); w.append(UInt32(mode?.height ?? 0))
                w.append(UInt32(mode == nil ? 0 : 1)); w.append(UInt32(0))
            }
        case let .edid(blob):
            let data = Array(blob.prefix(1024))
            w.append(UInt32(data.count)); w.append(UInt32(0))
            w.append(bytes: data + [UInt8](repeating: 0, count: 1024 - data.count))
        }
        return w.bytes
    }
}

/// Error responses (§5.7.6.7).
public enum GpuError: UInt32, Error, Sendable {
    case unspecified = 0x1200
    case outOfMemory = 0x1201
    case invalidScanoutID = 0x1202
    case invalidResourceID = 0x1203
    case invalidContextID = 0x1204
    case invalidParameter = 0x1205
}
