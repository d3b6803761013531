@testable import Devices
import AVPTestSupport
import Foundation
import Testing

/// Copy on write of scanout and resource images (`PixelStore`, `ScanoutFrame.shared()`, a
/// scanout that shows a resource's image buffer itself): whoever holds a buffer keeps its pixels
/// as they were, and the image stays exactly what was written, whatever the order of writes,
/// partial or whole, and of readers taking and letting go buffers.
@Suite struct GpuPixelStore {
    static func randomRect(_ width: Int, _ height: Int, _ g: inout SplitMix64) -> GpuRect {
        let x = Int.random(in: 0..<width, using: &g), y = Int.random(in: 0..<height, using: &g)
        return GpuRect(x: UInt32(x), y: UInt32(y), width: UInt32(Int.random(in: 1...(width - x), using: &g)),
                       height: UInt32(Int.random(in: 1...(height - y), using: &g)))
    }

    @Test("random partial, whole and in-place writes with readers holding old images: every image and every held buffer stays exact",
          arguments: [1, 2, 3, 4])
    func modelCheck(seed: UInt64) {
        var g = SplitMix64(seed: seed)
        let (width, height) = (13, 9)
        var store = PixelStore(width: width, height: height)
        var model = [UInt8](repeating: 0, count: width * height * 4)
        var readers: [(buffer: PixelBuffer, pixels: [UInt8])] = []
        var buffers = Set<ObjectIdentifier>()
        for step in 0..<2000 {
            let value = UInt8(truncatingIfNeeded: step)
            switch Int.random(in: 0..<10, using: &g) {
            case 0..<3:   // a reader takes the image
                readers.append((store.buffer, Array(store.bytes)))
            case 3..<5 where !readers.isEmpty:   // a reader lets go
                readers.remove(at: Int.random(in: 0..<readers.count, using: &g))
            case 5:   // a change anywhere, reading what is there (the compositor's in-place drawing)
                let bytes = store.writable(overwriting: nil)
                let at = Int.random(in: 0..<model.count, using: &g)
                bytes[at] = bytes[at] &+ value
                model[at] = model[at] &+ value
            default:   // a rect written in full
                let rect = Int.random(in: 0..<4, using: &g) == 0 ? store.whole : Self.randomRect(width, height, &g)
                let bytes = store.writable(overwriting: rect)
                for y in Int(rect.y)..<Int(rect.y + rect.height) {
                    for x in Int(rect.x) * 4..<Int(rect.x + rect.width) * 4 {
                        bytes[y * width * 4 + x] = value &+ UInt8(truncatingIfNeeded: x)
                        model[y * width * 4 + x] = value &+ UInt8(truncatingIfNeeded: x)
                    }
                }
            }
            // The first difference only: one is enough to find, a flood of them is not.
            guard Array(store.bytes) == model else {
                Issue.record("step \(step): the image differs from what was written")
                return
            }
            guard readers.allSatisfy({ Array(UnsafeRawBufferPointer($0.buffer.bytes)) == $0.pixels }) else {
                Issue.record("step \(step): a held buffer changed")
                return
            }
            buffers.insert(ObjectIdentifier(store.buffer))
        }
        // New buffers only when every spare was held: far fewer than the writes.
        #expect(buffers.count < 400, "\(buffers.count) buffers")
    }

    @Test("with nobody holding the image, writes go in place and allocate nothing")
    func unsharedWritesInPlace() {
        var store = PixelStore(width: 8, height: 8)
        let first = ObjectIdentifier(store.buffer)
        for i in 0..<10 { store.writable(overwriting: GpuRect(x: UInt32(i % 8), y: 0, width: 1, height: 8))[i] = 1 }
        #expect(ObjectIdentifier(store.buffer) == first)
    }

    @Test("a frame's shared pixels stay as taken while the device writes on; a partial write keeps the rest")
    func frameSharedPixels() throws {
        let frame = GpuDisplaySocket.frame(40, 30, seed: 5)
        let before = frame.snapshot().pixels
        let shared = frame.shared()
        GpuDisplaySocket.paint(frame, GpuRect(x: 3, y: 4, width: 10, height: 7), value: 0xAB)
        #expect(shared.withBytes { Array($0) } == before)
        var expected = before
        for y in 4..<11 { for x in 3 * 4..<13 * 4 { expected[y * 160 + x] = 0xAB } }
        #expect(frame.snapshot().pixels == expected)
        #expect(frame.pixels(in: GpuRect(x: 3, y: 4, width: 2, height: 1)) == [UInt8](repeating: 0xAB, count: 8))
    }

    @Test("a scanout of the whole resource: a later TRANSFER never changes what was flushed, and unflushed pixels never show")
    func wholeResourceScanout() throws {
        let f = try GpuFixture(modes: [DisplayMode(width: 64, height: 64, widthMM: 100, heightMM: 100)])
        let backing = try f.resource(3, width: 32, height: 16) { _, _ in 0x0101_0101 }
        #expect(GpuFixture.type(of: try f.send(0x0103, [0, 0, 32, 16, 0, 3])) == 0x1100)
        func frame() -> [UInt8] { f.device.frames[0].snapshot().pixels }
        func frameFlushed(_ value: UInt8, x: Int = 0, y: Int = 0) -> Bool { frame()[(y * 32 + x) * 4] == value }
        func send(_ type: UInt32, _ body: [UInt32]) throws { #expect(GpuFixture.type(of: try f.send(type, body)) == 0x1100) }

        // Whole TRANSFER and FLUSH: shown.
        try send(0x0105, [0, 0, 32, 16, 0, 0, 3, 0])
        try send(0x0104, [0, 0, 32, 16, 3, 0])
        #expect(frame() == [UInt8](repeating: 1, count: 32 * 16 * 4))
        let held = f.device.frames[0].shared()
        // A TRANSFER without a FLUSH: nothing changes, neither the frame nor the buffer held.
        backing.fill(2)
        try send(0x0105, [0, 0, 32, 16, 0, 0, 3, 0])
        #expect(frame() == [UInt8](repeating: 1, count: 32 * 16 * 4))
        // A FLUSH of part of it shows that part only.
        try send(0x0104, [4, 2, 8, 3, 3, 0])
        #expect(frameFlushed(2, x: 4, y: 2) && frameFlushed(2, x: 11, y: 4) && frameFlushed(1, x: 12, y: 4) && frameFlushed(1))
        // The rest follows with a whole FLUSH; a TRANSFER within a later FLUSH's rect shows at once.
        try send(0x0104, [0, 0, 32, 16, 3, 0])
        #expect(frame() == [UInt8](repeating: 2, count: 32 * 16 * 4))
        backing.fill(3)
        try send(0x0105, [0, 0, 8, 8, 0, 0, 3, 0])
        try send(0x0104, [0, 0, 16, 16, 3, 0])
        #expect(frameFlushed(3) && frameFlushed(3, x: 7, y: 7) && frameFlushed(2, x: 8, y: 0) && frameFlushed(2, x: 31, y: 15))
        #expect(held.withBytes { Array($0) } == [UInt8](repeating: 1, count: 32 * 16 * 4), "a held frame changed")
        // Another scanout rect of the same resource: copies, and sees only what was flushed.
        try send(0x0103, [0, 0, 16, 8, 0, 3])
        #expect(f.device.frames[0].size == (16, 8))
        #expect(f.device.frames[0].snapshot().pixels[0] == 3)
    }
}
