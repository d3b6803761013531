import GuestMemory
import SystemCalls

/// A front-end request decoded into what it means. `decode` is the single parser
/// of untrusted vhost-user input: a pure function from a message to a command or
/// a `VhostUserError`, unit-tested and fuzzed. `encode` is its inverse, for the
/// Swift front end.
public enum VhostUserCommand: @unchecked Sendable {
    case getFeatures
    case setFeatures(UInt64)
    case setOwner
    case resetOwner
    case setMemTable([MemoryRegionDescriptor], [FileDescriptor])
    case setVringNum(index: UInt32, size: UInt32)
    case setVringAddr(VringAddress)
    case setVringBase(index: UInt32, base: UInt32)
    case getVringBase(index: UInt32)
    /// nil descriptor: the front end set VHOST_USER_VRING_NOFD_MASK (polling / in-band).
    case setVringKick(index: UInt32, FileDescriptor?)
    case setVringCall(index: UInt32, FileDescriptor?)
    case setVringErr(index: UInt32, FileDescriptor?)
    case getProtocolFeatures
    case setProtocolFeatures(UInt64)
    case getQueueNum
    case setVringEnable(index: UInt32, enabled: Bool)
    case setBackendReqFD(FileDescriptor)
    /// vhost-user-gpu: the front end's end of a socket pair for scanouts and cursor
    /// (docs/interop/vhost-user-gpu.rst), sent at every DRIVER_OK.
    case gpuSetSocket(FileDescriptor)
    case getConfig(offset: UInt32, size: UInt32, flags: UInt32)
    case setConfig(offset: UInt32, flags: UInt32, bytes: [UInt8])
    case resetDevice
    case vringKick(index: UInt32)
    case getMaxMemSlots
    case addMemReg(MemoryRegionDescriptor, FileDescriptor)
    case remMemReg(MemoryRegionDescriptor)
    case setStatus(UInt8)
    case getStatus
    /// virtio-crypto: QEMU's VhostUserCryptoSession, whose layout depends on QEMU's version, so
    /// its bytes go to the device as they came (any size a message can have; the device refuses
    /// what it does not know). The reply has the same size and carries the session id.
    case createCryptoSession([UInt8])
    /// virtio-crypto: the id of a session to close.
    case closeCryptoSession(UInt64)
    /// INFLIGHT_SHMFD: the front end asks for an inflight-tracking area for these queues;
    /// the reply carries its description and a descriptor (vhost-user.rst, "Inflight I/O tracking").
    case getInflightFD(InflightDescription)
    /// INFLIGHT_SHMFD: the area the front end kept, handed (back) to the back end before the rings start.
    case setInflightFD(InflightDescription, FileDescriptor)
    /// A defined request AVP does not implement (and does not advertise the feature for).
    case unsupported(VhostUserRequest)

    /// VHOST_USER_VRING_IDX_MASK / VHOST_USER_VRING_NOFD_MASK in the u64 of SET_VRING_KICK/CALL/ERR.
    static let vringIndexMask: UInt64 = 0xff
    static let vringNoFDMask: UInt64 = 1 << 8
    static let regionSize = 32
    /// The largest config space exchange (VHOST_USER_MAX_CONFIG_SIZE).
    public static let maxConfigSize = 256

    // MARK: Decoding

    public static func decode(_ message: VhostUserMessage) throws(VhostUserError) -> VhostUserCommand {
        guard let request = message.request else { throw .unknownRequest(message.header.request) }
        let payload = message.payload
        let fds = message.descriptors
        var r = ByteReader(payload)

        func size(_ expected: Int) throws(VhostUserError) {
            guard payload.count == expected else { throw .wrongPayloadSize(request: "\(request)", size: payload.count) }
        }
        func fdCount(_ expected: Int) throws(VhostUserError) {
            guard fds.count == expected else {
                throw .wrongDescriptorCount(request: "\(request)", expected: expected, got: fds.count)
            }
        }
        func u64() throws(VhostUserError) -> UInt64 {
            try size(8)
            return try r.read(UInt64.self)
        }
        func state() throws(VhostUserError) -> (UInt32, UInt32) {
            try size(8)
            return (try r.read(UInt32.self), try r.read(UInt32.self))
        }
        func region() throws(VhostUserError) -> MemoryRegionDescriptor {
            MemoryRegionDescriptor(guestAddress: GuestAddress(try r.read(UInt64.self)), size: try r.read(UInt64.self),
                                   frontendAddress: FrontendAddress(try r.read(UInt64.self)), mmapOffset: try r.read(UInt64.self))
        }
        /// SET_VRING_KICK/CALL/ERR: index in bits 0-7, bit 8 says "no descriptor".
        func vringFD() throws(VhostUserError) -> (UInt32, FileDescriptor?) {
            let value = try u64()
            guard value & ~(vringIndexMask | vringNoFDMask) == 0 else {
                throw .wrongPayloadSize(request: "\(request) value 0x\(String(value, radix: 16))", size: 8)
            }
            let index = UInt32(value & vringIndexMask)
            if value & vringNoFDMask != 0 {
                try fdCount(0)
                return (index, nil)
            }
            try fdCount(1)
            return (index, fds[0])
        }
        func noPayload() throws(VhostUserError) {
            // QEMU sends some payload-less requests with a zero u64; accept either.
            guard payload.isEmpty || payload.count == 8 else { throw .wrongPayloadSize(request: "\(request)", size: payload.count) }
            try fdCount(0)
        }

        switch request {
        case .getFeatures: try noPayload(); return .getFeatures
        case .setFeatures: try fdCount(0); return .setFeatures(try u64())
        case .setOwner: try noPayload(); return .setOwner
        case .resetOwner: try noPayload(); return .resetOwner
        case .setMemTable:
            guard payload.count >= 8 else { throw .wrongPayloadSize(request: "\(request)", size: payload.count) }
            let count = Int(try r.read(UInt32.self))
            _ = try r.read(UInt32.self)
            guard count <= GuestMemory.maxRegions else { throw .tooManyRegions(count) }
            try size(8 + count * regionSize)
            try fdCount(count)
            var regions: [MemoryRegionDescriptor] = []
            for _ in 0..<count { regions.append(try region()) }
            return .setMemTable(regions, fds)
        case .setVringNum: try fdCount(0); let (i, n) = try state(); return .setVringNum(index: i, size: n)
        case .setVringAddr:
            try size(VringAddress.payloadSize)
            try fdCount(0)
            let index = try r.read(UInt32.self)
            let flags = try r.read(UInt32.self)
            let desc = FrontendAddress(try r.read(UInt64.self))
            let used = FrontendAddress(try r.read(UInt64.self))
            let avail = FrontendAddress(try r.read(UInt64.self))
            let log = try r.read(UInt64.self)
            return .setVringAddr(VringAddress(index: index, flags: flags, descriptorTable: desc, usedRing: used,
                                              availableRing: avail, log: log))
        case .setVringBase: try fdCount(0); let (i, b) = try state(); return .setVringBase(index: i, base: b)
        case .getVringBase: try fdCount(0); let (i, _) = try state(); return .getVringBase(index: i)
        case .setVringKick: let (i, fd) = try vringFD(); return .setVringKick(index: i, fd)
        case .setVringCall: let (i, fd) = try vringFD(); return .setVringCall(index: i, fd)
        case .setVringErr: let (i, fd) = try vringFD(); return .setVringErr(index: i, fd)
        case .getProtocolFeatures: try noPayload(); return .getProtocolFeatures
        case .setProtocolFeatures: try fdCount(0); return .setProtocolFeatures(try u64())
        case .getQueueNum: try noPayload(); return .getQueueNum
        case .setVringEnable:
            try fdCount(0)
            let (i, on) = try state()
            guard on <= 1 else { throw .wrongPayloadSize(request: "\(request) enable=\(on)", size: 8) }
            return .setVringEnable(index: i, enabled: on == 1)
        case .setBackendReqFD:
            guard payload.count <= 8 else { throw .wrongPayloadSize(request: "\(request)", size: payload.count) }
            try fdCount(1)
            return .setBackendReqFD(fds[0])
        case .gpuSetSocket:
            guard payload.isEmpty || payload.count == 8 else { throw .wrongPayloadSize(request: "\(request)", size: payload.count) }
            try fdCount(1)
            return .gpuSetSocket(fds[0])
        case .getConfig, .setConfig:
            try fdCount(0)
            guard payload.count >= 12 else { throw .wrongPayloadSize(request: "\(request)", size: payload.count) }
            let offset = try r.read(UInt32.self)
            let count = try r.read(UInt32.self)
            let flags = try r.read(UInt32.self)
            guard count <= UInt32(maxConfigSize), payload.count == 12 + Int(count) else {
                throw .wrongPayloadSize(request: "\(request) of \(count) config bytes", size: payload.count)
            }
            if request == .getConfig { return .getConfig(offset: offset, size: count, flags: flags) }
            return .setConfig(offset: offset, flags: flags, bytes: try r.readBytes(Int(count)))
        case .resetDevice: try noPayload(); return .resetDevice
        case .vringKick: try fdCount(0); let (i, _) = try state(); return .vringKick(index: i)
        case .getMaxMemSlots: try noPayload(); return .getMaxMemSlots
        case .addMemReg:
            try size(8 + regionSize)
            try fdCount(1)
            _ = try r.read(UInt64.self)
            return .addMemReg(try region(), fds[0])
        case .remMemReg:
            // QEMU sends the region's descriptor along; it is not needed and is closed with the message.
            try size(8 + regionSize)
            guard fds.count <= 1 else { throw .wrongDescriptorCount(request: "\(request)", expected: 1, got: fds.count) }
            _ = try r.read(UInt64.self)
            return .remMemReg(try region())
        case .setStatus: try fdCount(0); return .setStatus(UInt8(truncatingIfNeeded: try u64()))
        case .getStatus: try noPayload(); return .getStatus
        case .createCryptoSession: try fdCount(0); return .createCryptoSession(payload)
        case .closeCryptoSession: try fdCount(0); return .closeCryptoSession(try u64())
        case .getInflightFD: try fdCount(0); return .getInflightFD(try InflightDescription.decode(payload, request: request))
        case .setInflightFD:
            let description = try InflightDescription.decode(payload, request: request)
            try fdCount(1)
            return .setInflightFD(description, fds[0])
        default:
            return .unsupported(request)
        }
    }

    // MARK: Encoding (front end)

    /// The request, payload and descriptors that carry this command.
    public func encode() -> (request: VhostUserRequest, payload: [UInt8], descriptors: [FileDescriptor]) {
        var w = ByteWriter()
        func state(_ a: UInt32, _ b: UInt32) { w.write(a); w.write(b) }
        func region(_ d: MemoryRegionDescriptor) {
            w.write(d.guestAddress.raw); w.write(d.size); w.write(d.frontendAddress.raw); w.write(d.mmapOffset)
        }
        func vringFD(_ i: UInt32, _ fd: FileDescriptor?) -> [FileDescriptor] {
            w.write(UInt64(i) & Self.vringIndexMask | (fd == nil ? Self.vringNoFDMask : 0))
            return fd.map { [$0] } ?? []
        }
        switch self {
        case .getFeatures: return (.getFeatures, [], [])
        case let .setFeatures(f): w.write(f); return (.setFeatures, w.bytes, [])
        case .setOwner: return (.setOwner, [], [])
        case .resetOwner: return (.resetOwner, [], [])
        case let .setMemTable(regions, fds):
            w.write(UInt32(regions.count)); w.write(UInt32(0))
            regions.forEach(region)
            return (.setMemTable, w.bytes, fds)
        case let .setVringNum(i, n): state(i, n); return (.setVringNum, w.bytes, [])
        case let .setVringAddr(a):
            w.write(a.index); w.write(a.flags); w.write(a.descriptorTable.raw); w.write(a.usedRing.raw)
            w.write(a.availableRing.raw); w.write(a.log)
            return (.setVringAddr, w.bytes, [])
        case let .setVringBase(i, b): state(i, b); return (.setVringBase, w.bytes, [])
        case let .getVringBase(i): state(i, 0); return (.getVringBase, w.bytes, [])
        case let .setVringKick(i, fd): let fds = vringFD(i, fd); return (.setVringKick, w.bytes, fds)
        case let .setVringCall(i, fd): let fds = vringFD(i, fd); return (.setVringCall, w.bytes, fds)
        case let .setVringErr(i, fd): let fds = vringFD(i, fd); return (.setVringErr, w.bytes, fds)
        case .getProtocolFeatures: return (.getProtocolFeatures, [], [])
        case let .setProtocolFeatures(f): w.write(f); return (.setProtocolFeatures, w.bytes, [])
        case .getQueueNum: return (.getQueueNum, [], [])
        case let .setVringEnable(i, on): state(i, on ? 1 : 0); return (.setVringEnable, w.bytes, [])
        case let .setBackendReqFD(fd): return (.setBackendReqFD, [], [fd])
        case let .gpuSetSocket(fd): return (.gpuSetSocket, [], [fd])
        case let .getConfig(offset, count, flags):
            w.write(offset); w.write(count); w.write(flags); w.write(bytes: [UInt8](repeating: 0, count: Int(count)))
            return (.getConfig, w.bytes, [])
        case let .setConfig(offset, flags, bytes):
            w.write(offset); w.write(UInt32(bytes.count)); w.write(flags); w.write(bytes: bytes)
            return (.setConfig, w.bytes, [])
        case .resetDevice: return (.resetDevice, [], [])
        case let .vringKick(i): state(i, 0); return (.vringKick, w.bytes, [])
        case .getMaxMemSlots: return (.getMaxMemSlots, [], [])
        case let .addMemReg(d, fd): w.write(UInt64(0)); region(d); return (.addMemReg, w.bytes, [fd])
        case let .remMemReg(d): w.write(UInt64(0)); region(d); return (.remMemReg, w.bytes, [])
        case let .setStatus(s): w.write(UInt64(s)); return (.setStatus, w.bytes, [])
        case .getStatus: return (.getStatus, [], [])
        case let .createCryptoSession(bytes): return (.createCryptoSession, bytes, [])
        case let .closeCryptoSession(id): w.write(id); return (.closeCryptoSession, w.bytes, [])
        case let .getInflightFD(d): return (.getInflightFD, d.encode(), [])
        case let .setInflightFD(d, fd): return (.setInflightFD, d.encode(), [fd])
        case let .unsupported(request): return (request, [], [])
        }
    }

    /// Requests whose reply is part of the message itself (not a REPLY_ACK).
    public var expectsReply: Bool {
        switch self {
        case .getFeatures, .getProtocolFeatures, .getVringBase, .getQueueNum, .getConfig, .getMaxMemSlots, .getStatus,
             .createCryptoSession, .getInflightFD:
            return true
        default:
            return false
        }
    }
}
