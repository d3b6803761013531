#if canImport(Glibc)
import Glibc
#endif
import AVPTestSupport
import ArgumentParser
import Devices
import GuestMemory
import Synchronization
import SystemCalls
import VhostUser

/// Full-frame 2D updates against any vhost-user-gpu back end (AVP's or QEMU's
/// contrib/vhost-user-gpu), as a guest's DRM driver sends them for a dumb buffer:
/// one resource, one scanout, then per frame new pixels in the backing, TRANSFER_TO_HOST_2D
/// and RESOURCE_FLUSH of the whole rectangle, the two submitted together and both awaited.
/// The display socket (VHOST_USER_GPU_SET_SOCKET) is served the way QEMU does, on a thread:
/// the pixels of every UPDATE are read and dropped; what needs a reply gets one.
struct GpuLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu",
        abstract: "Full-frame TRANSFER_TO_HOST_2D + RESOURCE_FLUSH on a vhost-user-gpu socket; prints one key=value line.")

    @Option(help: "vhost-user-gpu socket.") var socket: String
    @Option(help: "PID of the server, for its CPU time.") var serverPid: Int32
    @Option(help: "Frames measured.") var frames = 1000
    @Option(help: "Frames sent before measuring.") var warmup = 20
    @Option(help: "Resource and scanout width (the server's scanout 0 must have this mode).") var width = 1920
    @Option(help: "Resource and scanout height.") var height = 1080
    @Option(help: "Control queue size.") var queueSize: UInt16 = 256
    @Flag(help: "A frame is done when its UPDATE has arrived on the display socket too (no back end can coalesce frames).")
    var waitForDisplay = false

    /// VIRTIO_GPU_* command and response types (VIRTIO 1.2 §5.7.6.7).
    enum Gpu {
        static let getDisplayInfo: UInt32 = 0x0100, resourceCreate2D: UInt32 = 0x0101, setScanout: UInt32 = 0x0103
        static let resourceFlush: UInt32 = 0x0104, transferToHost2D: UInt32 = 0x0105, attachBacking: UInt32 = 0x0106
        static let okNoData: UInt32 = 0x1100, okDisplayInfo: UInt32 = 0x1101
        static let formatB8G8R8X8: UInt32 = 2
        static let resource: UInt32 = 1
    }

    /// VHOST_F_LOG_ALL: dirty logging for migration, which no VMM asks for outside one.
    static let logAllFeature: UInt64 = 1 << 26

    func run() throws {
        guard frames >= 1, warmup >= 0, (1...8192).contains(width), (1...8192).contains(height) else {
            throw ValidationError("frames >= 1, warmup >= 0, sides 1 to 8192")
        }
        let imageBytes = width * height * 4
        let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: socket),
                                     memorySize: UInt64(imageBytes + (16 << 20) + 0xfff) & ~0xfff)
        let offered = try driver.frontend.getFeatures()
        try driver.negotiate(features: offered & ~Self.logAllFeature)

        // QEMU hands the back end its display socket at DRIVER_OK, before starting the rings.
        let (ours, theirs) = try UnixSocket.pair()
        let display = try DisplayPeer(socket: ours, mode: DisplayMode(width: width, height: height, widthMM: 293, heightMM: 165))
        let reader = try OSThread(name: "bench-gpu-dpy") { display.run() }
        defer {
            ours.shutdown(.both)
            reader.join()
        }
        try driver.frontend.send(.gpuSetSocket(theirs.descriptor))
        theirs.descriptor.close()
        try driver.shareMemory()
        let control = try driver.startQueue(index: 0, size: queueSize)
        _ = try driver.startQueue(index: 1, size: 16)

        // Requests and responses live in guest memory for the whole run; only the pixels change.
        func request(_ type: UInt32, _ body: [UInt32]) throws -> GuestSlice {
            var bytes = [UInt8]()
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
            put(type); put(UInt32(0)); put(UInt64(0)); put(UInt32(0)); put(UInt32(0))   // virtio_gpu_ctrl_hdr
            for v in body { put(v) }
            let slice = try driver.allocate(bytes.count)
            try slice.write(bytes)
            return slice
        }
        func submit(_ requests: [(GuestSlice, GuestSlice)], what: String, expecting expected: UInt32 = Gpu.okNoData) throws {
            for (request, response) in requests { try control.ring.add(readable: [request], writable: [response]) }
            control.kick()
            var used = 0
            while used < requests.count {
                let got = try control.waitForUsed(count: requests.count - used, timeoutMilliseconds: 10_000)
                guard !got.isEmpty else { throw ValidationError("\(what): the server did not answer within 10 s") }
                used += got.count
            }
            for (_, response) in requests {
                let type = try response.load(UInt32.self, at: 0)
                guard type == expected else {
                    throw ValidationError("\(what): response type 0x\(String(type, radix: 16)), expected 0x\(String(expected, radix: 16))")
                }
            }
        }
        let w = UInt32(width), h = UInt32(height)

        let info = try driver.allocate(408)
        try submit([(try request(Gpu.getDisplayInfo, []), info)], what: "GET_DISPLAY_INFO", expecting: Gpu.okDisplayInfo)
        let (modeWidth, modeHeight, enabled) = (try info.load(UInt32.self, at: 32), try info.load(UInt32.self, at: 36), try info.load(UInt32.self, at: 40))
        guard enabled == 1, modeWidth == w, modeHeight == h else {
            throw ValidationError("scanout 0 is \(modeWidth)x\(modeHeight) (enabled \(enabled)), not \(width)x\(height)")
        }
        let backing = try driver.allocate(imageBytes, alignment: 4096)
        let address = backing.guestAddress.raw
        try submit([(try request(Gpu.resourceCreate2D, [Gpu.resource, Gpu.formatB8G8R8X8, w, h]), try driver.allocate(24))],
                   what: "RESOURCE_CREATE_2D")
        try submit([(try request(Gpu.attachBacking, [Gpu.resource, 1, UInt32(truncatingIfNeeded: address), UInt32(address >> 32), UInt32(imageBytes), 0]),
                     try driver.allocate(24))], what: "RESOURCE_ATTACH_BACKING")
        try submit([(try request(Gpu.setScanout, [0, 0, w, h, 0, Gpu.resource]), try driver.allocate(24))], what: "SET_SCANOUT")
        // The first SCANOUT and UPDATE may come after SET_SCANOUT's response: not a frame's.
        display.waitUntilQuiet(milliseconds: 100, timeoutSeconds: 10)

        let transfer = (try request(Gpu.transferToHost2D, [0, 0, w, h, 0, 0, Gpu.resource, 0]), try driver.allocate(24))
        let flush = (try request(Gpu.resourceFlush, [0, 0, w, h, Gpu.resource, 0]), try driver.allocate(24))
        func frame(_ n: Int) throws {
            // Every byte of frame n is 1 + n % 255: never the 0 of a new resource, never the previous frame's.
            let value = UInt8(1 + n % 255)
            backing.fill(value)
            try transfer.1.store(UInt32(0), at: 0)
            try flush.1.store(UInt32(0), at: 0)
            try submit([transfer, flush], what: "frame \(n)")
            if waitForDisplay, !display.waitForUpdate(showing: value, timeoutSeconds: 10) {
                throw ValidationError("frame \(n): its UPDATE did not arrive on the display socket within 10 s")
            }
        }

        for n in 0..<warmup { try frame(n) }
        let before = display.statistics
        guard let cpuStart = ProcessCPU.seconds(pid: serverPid) else { throw ValidationError("no process \(serverPid)") }
        let start = MonotonicClock.nanoseconds()
        for n in warmup..<(warmup + frames) { try frame(n) }
        let end = MonotonicClock.nanoseconds()
        // A back end may still be sending the last frames' pixels: count that work too.
        display.waitUntilQuiet(milliseconds: 200, timeoutSeconds: 10)
        guard let cpuEnd = ProcessCPU.seconds(pid: serverPid) else { throw ValidationError("the server (\(serverPid)) exited") }
        let cpu = cpuEnd - cpuStart
        let after = display.statistics
        guard after.failure == nil else { throw ValidationError("display socket: \(after.failure!)") }
        guard after.dmabufMessages == 0 else {
            throw ValidationError("the server shared DMABUFs (a render node or /dev/udmabuf) instead of sending pixels: not the load measured here")
        }
        guard after.updates > 0, after.scanouts > 0 else { throw ValidationError("the server sent no SCANOUT or no UPDATE") }

        let seconds = Double(end - start) / 1e9
        let updates = after.updates - before.updates
        let pixelMiB = Double(after.updateBytes - before.updateBytes) / Double(1 << 20)
        print(String(format: "frames=%d seconds=%.3f server_cpu_s=%.3f frames_per_cpu_s=%.1f fps=%.1f updates=%d update_mib=%.0f replies=%d",
                     frames, seconds, cpu, cpu > 0 ? Double(frames) / cpu : 0, Double(frames) / seconds, updates, pixelMiB, after.replies))
    }
}

/// QEMU's end of the vhost-user-gpu socket (docs/interop/vhost-user-gpu.rst): reads every
/// message, drops the pixels, and answers GET_PROTOCOL_FEATURES (EDID only), GET_DISPLAY_INFO,
/// GET_EDID and DMABUF_UPDATE. Descriptors sent with DMABUF_SCANOUT are dropped unread
/// (recv without a control buffer: the kernel discards them).
final class DisplayPeer: Sendable {
    struct Statistics: Sendable {
        var updates = 0
        var updateBytes = 0
        var scanouts = 0
        /// DMABUF_SCANOUT/UPDATE: a back end with a render node or /dev/udmabuf shares buffers instead of sending pixels.
        var dmabufMessages = 0
        var replies = 0
        var failure: String?
        var lastByte: UInt64 = 0
        /// The first pixel byte of the latest UPDATE received whole.
        var lastUpdatePixel: UInt8?
    }

    private let socket: UnixSocket
    private let mode: DisplayMode
    private let shared = Mutex(Statistics())
    /// Signalled at every UPDATE received whole.
    private let updated: EventFD

    init(socket: UnixSocket, mode: DisplayMode) throws {
        self.socket = socket
        self.mode = mode
        updated = try EventFD()
    }

    var statistics: Statistics { shared.withLock { $0 } }

    /// Returns once nothing arrived for `milliseconds` (or after `timeoutSeconds`).
    func waitUntilQuiet(milliseconds: UInt64, timeoutSeconds: Double) {
        let deadline = MonotonicClock.seconds() + timeoutSeconds
        while MonotonicClock.seconds() < deadline {
            let last = shared.withLock { $0.lastByte }
            if MonotonicClock.nanoseconds() - last >= milliseconds * 1_000_000 { return }
            MonotonicClock.sleep(milliseconds: 10)
        }
    }

    /// Whether the latest UPDATE starts with a pixel byte `value` within `timeoutSeconds`.
    func waitForUpdate(showing value: UInt8, timeoutSeconds: Double) -> Bool {
        let deadline = MonotonicClock.seconds() + timeoutSeconds
        while shared.withLock({ $0.lastUpdatePixel }) != value {
            guard MonotonicClock.seconds() < deadline, shared.withLock({ $0.failure == nil }) else { return false }
            _ = updated.wait(timeoutMilliseconds: 50)
        }
        return true
    }

    func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var splitter = MessageSplitter()
        while true {
            let n = recv(socket.rawValue, buffer.baseAddress, buffer.count, 0)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                if n < 0 { fail("recv: errno \(errno)") }
                return
            }
            shared.withLock { $0.lastByte = MonotonicClock.nanoseconds() }
            splitter.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { handle($0, $1) }
        }
    }

    /// `payload`: the message's first `MessageSplitter.keep` bytes of payload.
    private func handle(_ header: VhostUserGpuMessage.Header, _ payload: [UInt8]) {
        guard !header.isReply else { return fail("a reply from the back end (request \(header.request))") }
        switch header.requestType {
        case .getProtocolFeatures:
            reply(header.request, u64: 1 << 0)   // VHOST_USER_GPU_PROTOCOL_F_EDID
        case .getDisplayInfo:
            reply(header.request, Self.displayInfo(mode))
        case .getEDID:
            let scanout = VhostUserGpuMessage.u32(payload, at: 0) ?? 0
            reply(header.request, Self.edid(scanout == 0 ? EDID.block(for: mode, name: "bench", serial: 0) : nil))
        case .dmabufUpdate:
            shared.withLock { $0.dmabufMessages += 1 }
            reply(header.request, [])
        case .update:
            shared.withLock {
                $0.updates += 1
                $0.updateBytes += max(0, Int(header.size) - VhostUserGpuMessage.updateFixedSize)
                $0.lastUpdatePixel = payload.count > VhostUserGpuMessage.updateFixedSize ? payload[VhostUserGpuMessage.updateFixedSize] : nil
            }
            updated.signal()
        case .scanout:
            shared.withLock { $0.scanouts += 1 }
        case .dmabufScanout, .dmabufScanout2:
            shared.withLock { $0.dmabufMessages += 1 }
        case .setProtocolFeatures, .cursorPosition, .cursorPositionHide, .cursorUpdate:
            break
        case nil:
            fail("unknown request \(header.request)")
        }
    }

    private func reply(_ request: UInt32, u64 value: UInt64) {
        reply(request, withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    private func reply(_ request: UInt32, _ payload: [UInt8]) {
        var bytes = [UInt8]()
        for v in [request, VhostUserGpuMessage.replyFlag, UInt32(payload.count)] { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        do {
            try socket.send(bytes + payload)
            shared.withLock { $0.replies += 1 }
        } catch {
            fail("reply to \(request): \(error)")
        }
    }

    private func fail(_ what: String) {
        shared.withLock { if $0.failure == nil { $0.failure = what } }
    }

    /// virtio_gpu_resp_display_info: the header (OK_DISPLAY_INFO), then 16 pmodes of
    /// {x, y, width, height, enabled, flags}; scanout 0 is `mode`, enabled.
    static func displayInfo(_ mode: DisplayMode) -> [UInt8] {
        var fields: [UInt32] = [0x1101, 0, 0, 0, 0, 0]
        fields += [0, 0, UInt32(mode.width), UInt32(mode.height), 1, 0]
        fields += [UInt32](repeating: 0, count: 15 * 6)
        return fields.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    /// virtio_gpu_resp_edid: the header (OK_EDID, or ERR_INVALID_SCANOUT_ID without a block),
    /// size, padding, then 1024 bytes of EDID.
    static func edid(_ block: [UInt8]?) -> [UInt8] {
        let fields: [UInt32] = [block == nil ? 0x1202 : 0x1104, 0, 0, 0, 0, 0, UInt32(block?.count ?? 0), 0]
        var bytes = fields.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        bytes += block ?? []
        bytes += [UInt8](repeating: 0, count: 1024 - (block?.count ?? 0))
        return bytes
    }
}

/// Splits the display stream into messages, keeping the first `keep` bytes of each payload
/// (every fixed part, and the first pixel of an UPDATE) and skipping the rest unexamined.
struct MessageSplitter {
    static let keep = 64
    private var header: [UInt8] = []
    private var current: VhostUserGpuMessage.Header?
    private var prefix: [UInt8] = []
    private var remaining = 0

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ body: (VhostUserGpuMessage.Header, [UInt8]) -> Void) {
        var i = 0
        while i < bytes.count {
            if current == nil {
                let take = min(bytes.count - i, VhostUserGpuMessage.headerSize - header.count)
                header += bytes[i..<i + take]
                i += take
                guard let complete = VhostUserGpuMessage.Header(header) else { continue }
                current = complete
                header.removeAll(keepingCapacity: true)
                prefix.removeAll(keepingCapacity: true)
                remaining = Int(complete.size)
            } else {
                let take = min(bytes.count - i, remaining)
                if prefix.count < Self.keep { prefix += bytes[i..<i + min(take, Self.keep - prefix.count)] }
                i += take
                remaining -= take
            }
            if let done = current, remaining == 0 {
                body(done, prefix)
                current = nil
            }
        }
    }
}
