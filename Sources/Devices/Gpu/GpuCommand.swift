/// A virtio-gpu 2D request decoded into what it asks for (VIRTIO 1.2 §5.7.6). `parse` is
/// the single parser of the guest's control- and cursor-queue requests: a pure function
/// of the request's bytes, unit-tested and fuzzed (fuzz/GpuCommandFuzz.swift). Values are
/// not yet checked against the device's state (resource IDs, sizes): `GpuDevice` does that.
public enum GpuCommand: Sendable, Equatable {
    case getDisplayInfo
    case resourceCreate2D(resource: UInt32, format: UInt32, width: UInt32, height: UInt32)
    case resourceUnref(resource: UInt32)
    case setScanout(scanout: UInt32, resource: UInt32, rect: GpuRect)
    case resourceFlush(resource: UInt32, rect: GpuRect)
    /// `offset`: where pixel (rect.x, rect.y) starts in the backing (§5.7.6.8).
    case transferToHost2D(resource: UInt32, rect: GpuRect, offset: UInt64)
    case attachBacking(resource: UInt32, entries: [GpuMemoryEntry])
    case detachBacking(resource: UInt32)
    case getEDID(scanout: UInt32)
    case updateCursor(CursorRequest)
    case moveCursor(CursorRequest)
    /// A 3D, blob or capset command, or a type this device does not know: ERR_UNSPEC.
    case unsupported(type: UInt32)

    /// Command type numbers (§5.7.6.7).
    public enum Kind: UInt32, Sendable {
        case getDisplayInfo = 0x0100, resourceCreate2D, resourceUnref, setScanout, resourceFlush, transferToHost2D
        case attachBacking, detachBacking, getCapsetInfo, getCapset, getEDID
        case updateCursor = 0x0300, moveCursor
    }

    /// At most this many backing entries per ATTACH_BACKING, as QEMU (16384: 64 MiB in 4 KiB pages).
    public static let maxBackingEntries = 16384
    /// The largest request: ATTACH_BACKING with `maxBackingEntries` entries.
    public static let maxRequestSize = 32 + 16 * maxBackingEntries

    public struct Request: Sendable, Equatable {
        public var header: GpuControlHeader
        public var command: GpuCommand
    }

    /// Why a request could not be parsed; answered with ERR_UNSPEC (or INVALID_PARAMETER).
    public enum ParseError: Error, Sendable, Equatable {
        case headerTooShort(Int)
        /// The request is shorter than its type requires.
        case tooShort(type: UInt32, needed: Int, got: Int)
        case tooManyEntries(UInt32)
    }

    /// Parses one request: the device-readable bytes of a chain, at most `maxRequestSize`.
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> Request {
        var r = LittleEndianReader(bytes)
        guard let type = r.read(UInt32.self), let flags = r.read(UInt32.self), let fence = r.read(UInt64.self),
              let context = r.read(UInt32.self), let ring = r.read(UInt8.self) else { throw .headerTooShort(bytes.count) }
        let header = GpuControlHeader(type: type, flags: flags, fenceID: fence, contextID: context, ringIndex: ring)
        r = LittleEndianReader(Array(bytes.dropFirst(GpuControlHeader.size)))
        func need(_ count: Int) throws(ParseError) {
            guard r.remaining >= count else { throw .tooShort(type: type, needed: GpuControlHeader.size + count, got: bytes.count) }
        }
        func rect() -> GpuRect { GpuRect(x: r.read()!, y: r.read()!, width: r.read()!, height: r.read()!) }
        let command: GpuCommand
        switch Kind(rawValue: type) {
        case .getDisplayInfo:
            command = .getDisplayInfo
        case .resourceCreate2D:
            try need(16)
            command = .resourceCreate2D(resource: r.read()!, format: r.read()!, width: r.read()!, height: r.read()!)
        case .resourceUnref:
            try need(8)
            command = .resourceUnref(resource: r.read()!)
        case .setScanout:
            try need(24)
            let area = rect()
            command = .setScanout(scanout: r.read()!, resource: r.read()!, rect: area)
        case .resourceFlush:
            try need(24)
            let area = rect()
            command = .resourceFlush(resource: r.read()!, rect: area)
        case .transferToHost2D:
            try need(32)
            let area = rect()
            let offset: UInt64 = r.read()!
            command = .transferToHost2D(resource: r.read()!, rect: area, offset: offset)
        case .attachBacking:
            try need(8)
            let resource: UInt32 = r.read()!, count: UInt32 = r.read()!
            guard count <= maxBackingEntries else { throw .tooManyEntries(count) }
            try need(Int(count) * 16)
            var entries: [GpuMemoryEntry] = []
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                let address: UInt64 = r.read()!, length: UInt32 = r.read()!
                _ = r.read(UInt32.self)
                entries.append(GpuMemoryEntry(address: address, length: length))
            }
            command = .attachBacking(resource: resource, entries: entries)
        case .detachBacking:
            try need(8)
            command = .detachBacking(resource: r.read()!)
        case .getEDID:
            try need(8)
            command = .getEDID(scanout: r.read()!)
        case .updateCursor, .moveCursor:
            try need(32)
            let scanout: UInt32 = r.read()!, x: UInt32 = r.read()!, y: UInt32 = r.read()!
            _ = r.read(UInt32.self)   // padding of virtio_gpu_cursor_pos
            let cursor = CursorRequest(scanout: scanout, x: x, y: y, resource: r.read()!, hotX: r.read()!, hotY: r.read()!)
            command = type == Kind.updateCursor.rawValue ? .updateCursor(cursor) : .moveCursor(cursor)
        case .getCapsetInfo, .getCapset, nil:
            command = .unsupported(type: type)
        }
        return Request(header: header, command: command)
    }
}

/// One guest memory range of a resource's backing (`virtio_gpu_mem_entry`).
public struct GpuMemoryEntry: Sendable, Equatable {
    public var address: UInt64
    public var length: UInt32
}

/// UPDATE_CURSOR / MOVE_CURSOR (`virtio_gpu_update_cursor`, §5.7.6.10).
public struct CursorRequest: Sendable, Equatable {
    public var scanout: UInt32
    public var x: UInt32
    public var y: UInt32
    public var resource: UInt32
    public var hotX: UInt32
    public var hotY: UInt32
}
