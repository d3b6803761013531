import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// A GPU device served in-process, driven by the Swift front end as a (possibly hostile) driver.
final class GpuFixture {
    let socketPath: String
    let device: GpuDevice
    let server: VhostUserServer
    let driver: GuestDriver
    var control: DriverQueue { driver.queues[0] }

    init(modes: [DisplayMode] = [.standard], memory: UInt64 = 64 << 20) throws {
        socketPath = FileManager.default.temporaryDirectory.appendingPathComponent("avp-gpu-\(try SystemRandom.uint64()).sock").path
        let logger = Logger(label: "test.gpu")
        device = GpuDevice(modes: modes, logger: logger)
        server = try VhostUserServer(socketPath: socketPath, device: device, logger: logger)
        try server.start()
        let frontend = try VhostUserFrontend.connect(to: socketPath)
        driver = try GuestDriver(frontend: frontend, memorySize: memory)
        try driver.negotiate()
        try driver.shareMemory()
        _ = try driver.startQueue(index: 0, size: 64)
        _ = try driver.startQueue(index: 1, size: 16)
    }

    deinit { server.stop() }

    /// Sends one control request (24-byte header with `type`, then `body`); returns the response.
    func send(_ type: UInt32, _ body: [UInt32] = [], raw: [UInt8]? = nil, fence: UInt64? = nil, responseSize: Int = 24) throws -> [UInt8] {
        var bytes = [UInt8]()
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        put(type); put(UInt32(fence == nil ? 0 : 1)); put(fence ?? 0); put(UInt32(0)); put(UInt32(0))
        if let raw { bytes += raw } else { for v in body { put(v) } }
        let request = try driver.allocate(bytes.count)
        try request.write(bytes)
        let response = try driver.allocate(responseSize)
        try control.ring.add(readable: [request], writable: [response])
        control.kick()
        let used = try control.waitForUsed()
        try #require(used.count == 1)
        return try response.bytes(count: Int(used[0].length))
    }

    static func type(of response: [UInt8]) -> UInt32 {
        response.count >= 4 ? UInt32(response[0]) | UInt32(response[1]) << 8 | UInt32(response[2]) << 16 | UInt32(response[3]) << 24 : 0
    }

    /// A 4-byte-pixel resource with backing in guest memory filled by `pixel(x, y)`.
    func resource(_ id: UInt32, width: Int, height: Int, pixel: (Int, Int) -> UInt32) throws -> GuestSlice {
        #expect(Self.type(of: try send(0x0101, [id, 2, UInt32(width), UInt32(height)])) == 0x1100)
        let backing = try driver.allocate(width * height * 4, alignment: 4096)
        for y in 0..<height { for x in 0..<width { try backing.store(pixel(x, y), at: (y * width + x) * 4) } }
        let address = backing.guestAddress.raw
        #expect(Self.type(of: try send(0x0106, [id, 1, UInt32(truncatingIfNeeded: address), UInt32(address >> 32), UInt32(width * height * 4), 0])) == 0x1100)
        return backing
    }
}

@Suite struct GpuRequests {
    @Test("AVPS-v2.0-17/20: display info and EDID carry the configured mode and physical size")
    func displayInfoAndEDID() throws {
        let f = try GpuFixture(modes: [DisplayMode(width: 1280, height: 720, widthMM: 200, heightMM: 113)])
        let info = try f.send(0x0100, responseSize: 408)
        #expect(GpuFixture.type(of: info) == 0x1101 && info.count == 408)
        #expect(Array(info[32..<44]) == [0x00, 0x05, 0, 0, 0xD0, 0x02, 0, 0, 1, 0, 0, 0])   // 1280, 720, enabled
        let edid = try f.send(0x010a, [0, 0], responseSize: 1056)
        #expect(GpuFixture.type(of: edid) == 0x1104 && edid[24] == 128)
        let block = Array(edid[32..<160])
        #expect(block == EDID.block(for: f.device.modes[0], name: "AVP display", serial: 0))
        #expect(block[21] == 20 && block[22] == 11 && block[54 + 12] == 200 && block[54 + 13] == 113)
        #expect(GpuFixture.type(of: try f.send(0x010a, [1, 0])) == 0x1205)   // no scanout 1
    }

    @Test("a fenced request's response carries the fence; a flushed scanout holds the guest's pixels")
    func transferFlushAndFence() throws {
        let f = try GpuFixture(modes: [DisplayMode(width: 64, height: 64, widthMM: 100, heightMM: 100)])
        _ = try f.resource(7, width: 64, height: 32) { x, y in UInt32(x) << 16 | UInt32(y) << 8 | 0xFF00_0000 }
        #expect(GpuFixture.type(of: try f.send(0x0103, [0, 0, 64, 32, 0, 7])) == 0x1100)           // SET_SCANOUT
        #expect(GpuFixture.type(of: try f.send(0x0105, [0, 0, 64, 32, 0, 0, 7, 0])) == 0x1100)     // TRANSFER whole
        let flushed = try f.send(0x0104, [8, 4, 16, 8, 7, 0], fence: 0x1234_5678_9abc)            // FLUSH part, fenced
        #expect(GpuFixture.type(of: flushed) == 0x1100 && flushed[4] & 1 == 1)
        #expect(flushed[8..<16].elementsEqual([0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0]))
        let frame = f.device.frames[0].snapshot()
        #expect(frame.width == 64 && frame.height == 32)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(frame.pixels[(y * 64 + x) * 4..<(y * 64 + x) * 4 + 4]) }
        #expect(pixel(10, 5) == [0, 5, 10, 0xFF])    // inside the flushed rectangle
        // SET_SCANOUT showed the resource before TRANSFER (black); only the flushed part changed since.
        #expect(pixel(0, 0) == [0, 0, 0, 0] && pixel(40, 20) == [0, 0, 0, 0])
    }

    @Test("a partial transfer reads each row from the right backing entry when the backing is split unevenly")
    func splitBacking() throws {
        let f = try GpuFixture(modes: [DisplayMode(width: 64, height: 64, widthMM: 100, heightMM: 100)])
        #expect(GpuFixture.type(of: try f.send(0x0101, [5, 2, 64, 64])) == 0x1100)
        let sizes = [5000, 7000, 64 * 64 * 4 - 12000]
        var body: [UInt32] = [5, UInt32(sizes.count)]
        var pieces: [GuestSlice] = []
        for size in sizes {
            let piece = try f.driver.allocate(size, alignment: 64)
            pieces.append(piece)
            body += [UInt32(truncatingIfNeeded: piece.guestAddress.raw), UInt32(piece.guestAddress.raw >> 32), UInt32(size), 0]
        }
        // Pixel (x, y) is 0x00YYXX00 (bytes 00 XX YY 00), laid across the three pieces.
        for offset in stride(from: 0, to: 64 * 64 * 4, by: 4) {
            let pixel = offset / 4, value = UInt32(pixel % 64) << 8 | UInt32(pixel / 64) << 16
            var at = offset, index = 0
            while at >= sizes[index] { at -= sizes[index]; index += 1 }
            try pieces[index].store(value, at: at)
        }
        #expect(GpuFixture.type(of: try f.send(0x0106, body)) == 0x1100)
        #expect(GpuFixture.type(of: try f.send(0x0103, [0, 0, 64, 64, 0, 5])) == 0x1100)
        let (x, y, w, h): (UInt32, UInt32, UInt32, UInt32) = (10, 7, 20, 30)
        let offset = y * 64 * 4 + x * 4
        #expect(GpuFixture.type(of: try f.send(0x0105, [x, y, w, h, offset, 0, 5, 0])) == 0x1100)
        #expect(GpuFixture.type(of: try f.send(0x0104, [0, 0, 64, 64, 5, 0])) == 0x1100)
        let frame = f.device.frames[0].snapshot()
        for (px, py) in [(10, 7), (29, 7), (10, 36), (29, 36), (17, 20)] {
            let o = (py * 64 + px) * 4
            #expect(Array(frame.pixels[o..<o + 4]) == [0, UInt8(px), UInt8(py), 0], "(\(px), \(py))")
        }
        #expect(Array(frame.pixels[(6 * 64 + 10) * 4..<(6 * 64 + 10) * 4 + 4]) == [0, 0, 0, 0])   // above the rectangle: not transferred
    }

    @Test("AVPS-v2.0-26: absurd sizes, foreign resource IDs, backing outside guest memory and short backings are refused; the device keeps serving")
    func hostileRequests() throws {
        let f = try GpuFixture()
        #expect(GpuFixture.type(of: try f.send(0x0101, [1, 2, 65536, 65536])) == 0x1205)          // 65536×65536
        #expect(GpuFixture.type(of: try f.send(0x0101, [0, 2, 16, 16])) == 0x1203)                // resource 0
        #expect(GpuFixture.type(of: try f.send(0x0101, [2, 999, 16, 16])) == 0x1205)              // unknown format
        // 256 MiB of images per VM: the 17th 4096x1024 (16 MiB) resource is out of memory.
        for id in 10..<26 { #expect(GpuFixture.type(of: try f.send(0x0101, [UInt32(id), 2, 4096, 1024])) == 0x1100) }
        #expect(GpuFixture.type(of: try f.send(0x0101, [26, 2, 4096, 1024])) == 0x1201)
        for id in 10..<26 { _ = try f.send(0x0102, [UInt32(id), 0]) }
        // A resource ID this VM never created (another VM's, or none): refused everywhere.
        for (type, body) in [(UInt32(0x0102), [UInt32(77), 0]), (0x0103, [0, 0, 16, 16, 0, 77]), (0x0104, [0, 0, 16, 16, 77, 0]),
                             (0x0105, [0, 0, 16, 16, 0, 0, 77, 0]), (0x0107, [77, 0])] {
            #expect(GpuFixture.type(of: try f.send(type, body)) == 0x1203, "type \(type)")
        }
        #expect(GpuFixture.type(of: try f.send(0x0101, [3, 2, 16, 16])) == 0x1100)
        // Backing outside guest memory, and an address that wraps.
        #expect(GpuFixture.type(of: try f.send(0x0106, [3, 1, 0, 0x7000_0000, 4096, 0])) == 0x1200)
        #expect(GpuFixture.type(of: try f.send(0x0106, [3, 1, 0xFFFF_F000, 0xFFFF_FFFF, 0x2000, 0])) == 0x1200)
        // More entries than the request holds, and more than 16384.
        #expect(GpuFixture.type(of: try f.send(0x0106, [3, 100, 0, 0])) == 0x1200)
        #expect(GpuFixture.type(of: try f.send(0x0106, [3, 0xFFFF_FFFF])) == 0x1200)
        // A backing shorter than the transfer needs, and rectangles outside the resource.
        let small = try f.driver.allocate(64, alignment: 64)
        let a = small.guestAddress.raw
        #expect(GpuFixture.type(of: try f.send(0x0106, [3, 1, UInt32(truncatingIfNeeded: a), UInt32(a >> 32), 64, 0])) == 0x1100)
        #expect(GpuFixture.type(of: try f.send(0x0105, [0, 0, 16, 16, 0, 0, 3, 0])) == 0x1205)
        #expect(GpuFixture.type(of: try f.send(0x0105, [0, 0, 4, 4, 0xFFFF_FFF0, 0xFFFF_FFFF, 3, 0])) == 0x1205)   // offset wraps
        #expect(GpuFixture.type(of: try f.send(0x0105, [0xFFFF_FFF0, 0, 32, 1, 0, 0, 3, 0])) == 0x1205)
        #expect(GpuFixture.type(of: try f.send(0x0103, [8, 8, 16, 16, 0, 3])) == 0x1205)          // scanout rect outside
        #expect(GpuFixture.type(of: try f.send(0x0103, [0, 0, 16, 16, 5, 3])) == 0x1202)          // scanout 5
        // A scanout larger than its output (1920x1080), even from a resource that large.
        #expect(GpuFixture.type(of: try f.send(0x0101, [4, 2, 4096, 2048])) == 0x1100)
        #expect(GpuFixture.type(of: try f.send(0x0103, [0, 0, 4096, 2048, 0, 4])) == 0x1205)
        // A truncated request and an unknown command.
        #expect(GpuFixture.type(of: try f.send(0x0101, raw: [1, 0, 0, 0])) == 0x1200)
        #expect(GpuFixture.type(of: try f.send(0x0207, [])) == 0x1200)
        // Still serving.
        #expect(GpuFixture.type(of: try f.send(0x0100, responseSize: 408)) == 0x1101)
    }
}
