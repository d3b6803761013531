import Synchronization
import SystemCalls

/// The VMM's end of the vhost-user-gpu display socket (QEMU docs/interop/vhost-user-gpu.rst),
/// handed to the back end with VHOST_USER_GPU_SET_SOCKET: a back end such as QEMU's
/// vhost-user-gpu asks its front end for protocol features, the display info and the EDID
/// here and waits for the answers before it completes the guest's command. This peer answers
/// those (one 1024×768 display, `GpuProbeEDID.probeBlock`) and reads and counts the rest
/// (SCANOUT, UPDATE, cursor messages), on a thread of its own until the socket closes.
final class GpuDisplayPeer: @unchecked Sendable {
    /// The end the back end gets.
    let backEndSide: UnixSocket
    private let socket: UnixSocket
    private var thread: OSThread?
    private let seen = Mutex<[UInt32: Int]>([:])
    /// Messages announcing more payload than this end the conversation (a bounded peer).
    static let maxPayload = 64 << 20

    static let replyFlag: UInt32 = 0x4
    /// VHOST_USER_GPU_PROTOCOL_F_EDID: this peer answers GET_EDID.
    static let protocolEDID: UInt64 = 1 << 0

    /// Message names (vhost-user-gpu.rst) for evidence.
    static func name(_ request: UInt32) -> String {
        switch request {
        case 1: "GET_PROTOCOL_FEATURES"
        case 2: "SET_PROTOCOL_FEATURES"
        case 3: "GET_DISPLAY_INFO"
        case 4: "CURSOR_POS"
        case 5: "CURSOR_POS_HIDE"
        case 6: "CURSOR_UPDATE"
        case 7: "SCANOUT"
        case 8: "UPDATE"
        case 9: "DMABUF_SCANOUT"
        case 10: "DMABUF_UPDATE"
        case 11: "GET_EDID"
        case 12: "DMABUF_SCANOUT2"
        default: "request \(request)"
        }
    }

    init() throws {
        (socket, backEndSide) = try UnixSocket.pair()
        thread = try OSThread(name: "avp-probe-gpu") { [self] in serve() }
    }

    /// Closes the socket and waits for the thread.
    func stop() {
        socket.shutdown()
        thread?.join()
        thread = nil
    }

    deinit { stop() }

    /// Counts of the messages the back end sent, by name.
    var messages: [String: Int] {
        seen.withLock { counts in Dictionary(uniqueKeysWithValues: counts.map { (Self.name($0.key), $0.value) }) }
    }

    func count(of request: UInt32) -> Int { seen.withLock { $0[request] ?? 0 } }

    private func serve() {
        while let header = try? socket.receiveExactly(12), header.bytes.count == 12 {
            let request = GpuProbeSpec.u32(header.bytes, at: 0) ?? 0
            let size = Int(GpuProbeSpec.u32(header.bytes, at: 8) ?? 0)
            guard size <= Self.maxPayload else { break }
            var payload: [UInt8] = []
            if size > 0 {
                guard let body = try? socket.receiveExactly(size) else { break }
                payload = body.bytes
            }
            seen.withLock { $0[request, default: 0] += 1 }
            if let reply = reply(to: request, payload: payload) {
                var bytes: [UInt8] = []
                GpuProbeSpec.append(request, to: &bytes)
                GpuProbeSpec.append(Self.replyFlag, to: &bytes)
                GpuProbeSpec.append(UInt32(reply.count), to: &bytes)
                guard (try? socket.send(bytes + reply)) != nil else { break }
            }
        }
    }

    /// The payload answering `request`, or nil for messages without a reply.
    private func reply(to request: UInt32, payload: [UInt8]) -> [UInt8]? {
        switch request {
        case 1: // GET_PROTOCOL_FEATURES: u64
            return (0..<8).map { UInt8(truncatingIfNeeded: Self.protocolEDID >> (8 * UInt64($0))) }
        case 3: // GET_DISPLAY_INFO: struct virtio_gpu_resp_display_info, scanout 0 enabled at 1024×768.
            var info = [UInt8](repeating: 0, count: GpuProbeSpec.displayInfoSize)
            GpuProbeSpec.put(GpuProbeSpec.okDisplayInfo, into: &info, at: 0)
            GpuProbeSpec.put(1024, into: &info, at: GpuProbeSpec.headerSize + 8)
            GpuProbeSpec.put(768, into: &info, at: GpuProbeSpec.headerSize + 12)
            GpuProbeSpec.put(1, into: &info, at: GpuProbeSpec.headerSize + 16)
            return info
        case 10: // DMABUF_UPDATE: an empty acknowledgement.
            return []
        case 11: // GET_EDID: struct virtio_gpu_resp_edid.
            var edid = [UInt8](repeating: 0, count: GpuProbeSpec.edidResponseSize)
            GpuProbeSpec.put(GpuProbeSpec.okEDID, into: &edid, at: 0)
            GpuProbeSpec.put(UInt32(GpuProbeEDID.probeBlock.count), into: &edid, at: GpuProbeSpec.headerSize)
            edid.replaceSubrange(GpuProbeSpec.headerSize + 8..<GpuProbeSpec.headerSize + 8 + 128, with: GpuProbeEDID.probeBlock)
            return edid
        default:
            return nil
        }
    }
}
