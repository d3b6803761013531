import Devices
import Foundation
import Logging
import SystemCalls
import Testing

/// The block server's engine for page-cache images: write-back writes in place, the rest on io_uring.
@Suite struct BufferedWritesInPlaceEngine {
    /// A 1 MiB scratch file and a descriptor to it.
    final class ScratchFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-inplace-\(UUID().uuidString)").path
        let fd: Int32
        init() throws {
            FileManager.default.createFile(atPath: path, contents: Data(count: 1 << 20))
            fd = open(path, O_RDWR)
            try #require(fd >= 0)
        }
        deinit { close(fd); unlink(path) }
        func bytes(at offset: Int, count: Int) throws -> [UInt8] {
            Array(try #require(FileManager.default.contents(atPath: path))[offset..<offset + count])
        }
    }

    /// One iovec over a copy of `bytes`; both stay valid until `release`, as the ring needs them
    /// until the operation completes.
    final class Vector {
        let bytes: UnsafeMutableRawBufferPointer
        let iov = UnsafeMutablePointer<iovec>.allocate(capacity: 1)
        init(_ contents: [UInt8]) {
            bytes = .allocate(byteCount: contents.count, alignment: 4096)
            bytes.copyBytes(from: contents)
            iov.initialize(to: iovec(iov_base: bytes.baseAddress, iov_len: bytes.count))
        }
        deinit { iov.deallocate(); bytes.deallocate() }
        var pointer: UnsafePointer<iovec> { UnsafePointer(iov) }
    }

    @Test func writeBackWritesLandAtOnceAndCompleteBeforeTheRings() throws {
        let file = try ScratchFile()
        let engine = BufferedWritesInPlace(ring: try IOUring(entries: 8))
        let stable = [UInt8](repeating: 0x22, count: 4096), buffered = [UInt8](repeating: 0x11, count: 4096)
        let stableVector = Vector(stable), bufferedVector = Vector(buffered)
        // The stable (RWF_DSYNC) write is prepared first, but only the ring runs it, at submit.
        #expect(engine.prepareWrite(fd: file.fd, vectors: stableVector.pointer, count: 1, offset: 8192, dataSync: true, userData: 1))
        #expect(engine.prepareWrite(fd: file.fd, vectors: bufferedVector.pointer, count: 1, offset: 4096, dataSync: false, userData: 2))
        #expect(engine.pendingSubmissions == 1)
        #expect(try file.bytes(at: 4096, count: 4096) == buffered)
        #expect(try file.bytes(at: 8192, count: 1) == [0])

        try engine.submit(waitFor: 0)
        var completions: [IOUring.Completion] = []
        while completions.count < 2 {
            if let c = engine.nextCompletion() { completions.append(c) } else { try engine.submit(waitFor: 1) }
        }
        #expect(completions.map(\.userData) == [2, 1])
        #expect(completions.map(\.result) == [4096, 4096])
        #expect(try file.bytes(at: 8192, count: 4096) == stable)
        #expect(engine.nextCompletion() == nil)
        withExtendedLifetime((stableVector, bufferedVector)) {}
    }

    @Test func waitingWhileWritesInPlaceAreUncollectedDoesNotBlock() throws {
        let file = try ScratchFile()
        let engine = BufferedWritesInPlace(ring: try IOUring(entries: 8))
        let vector = Vector([UInt8](repeating: 0x33, count: 512))
        _ = engine.prepareWrite(fd: file.fd, vectors: vector.pointer, count: 1, offset: 0, dataSync: false, userData: 7)
        // Nothing is on the ring: a wait there would never end.
        let returned = DispatchSemaphore(value: 0)
        let thread = Thread { try? engine.submit(waitFor: 1); returned.signal() }
        thread.start()
        #expect(returned.wait(timeout: .now() + 5) == .success)
        #expect(engine.nextCompletion()?.userData == 7)
    }

    @Test func aFailedWriteInPlaceCompletesWithItsErrno() throws {
        let engine = BufferedWritesInPlace(ring: try IOUring(entries: 8))
        let vector = Vector([UInt8](repeating: 0, count: 512))
        _ = engine.prepareWrite(fd: -1, vectors: vector.pointer, count: 1, offset: 0, dataSync: false, userData: 9)
        let completion = try #require(engine.nextCompletion())
        #expect(completion.userData == 9)
        #expect(completion.result == -EBADF)
    }

    @Test func theBlockServerUsesItForPageCacheImagesOnly() throws {
        let file = try ScratchFile()
        let logger = Logger(label: "test.block")
        do {
            // Closed before the next device opens the image: each holds its lock (BlockImageLock).
            let buffered = try BlockDevice(options: BlockDeviceOptions(imagePath: file.path), logger: logger)
            #expect(buffered.engineName == "io_uring, write-back writes in place")
        }
        var options = BlockDeviceOptions(imagePath: file.path)
        options.direct = true
        let direct = try BlockDevice(options: options, logger: logger)
        #expect(direct.engineName == "io_uring")
    }
}
