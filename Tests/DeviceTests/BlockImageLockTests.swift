import Devices
import Foundation
import SystemCalls
import Testing

/// `BlockImageLock`: a server does not touch an image while another open file of it — a running
/// server, or reads and writes a killed one left in flight — still holds it.
@Suite struct BlockImageLockTests {
    /// A 4 KiB image file, removed when the test ends.
    final class Scratch {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-lock-\(UUID().uuidString).img").path
        init() { _ = FileManager.default.createFile(atPath: path, contents: Data(count: 4096)) }
        deinit { unlink(path) }
    }
    let scratch = Scratch()

    func open(readOnly: Bool = false, waiting: () -> Void = {}) throws(BlockImageError) -> BlockImage {
        try BlockImage(path: scratch.path, readOnly: readOnly, direct: false, lockWaitSeconds: 0.05, waiting: waiting)
    }

    @Test func aSecondWriterWaitsAndGivesUp() throws {
        let first = try open()
        var waited = 0
        #expect(throws: BlockImageError.locked(waitedSeconds: 0.05)) { _ = try open(waiting: { waited += 1 }) }
        #expect(waited == 1)
        withExtendedLifetime(first) {}
    }

    @Test func theLockGoesWithTheLastReferenceToTheOpenFile() throws {
        var first: BlockImage? = try open()
        // What an I/O request in flight holds: a reference to the same open file, not the descriptor.
        let inFlight = try first!.file.duplicate()
        first = nil
        #expect(throws: BlockImageError.locked(waitedSeconds: 0.05)) { _ = try open() }
        inFlight.close()
        let second = try open()
        #expect(second.capacitySectors == 8)
    }

    @Test func readersShareAndExcludeAWriter() throws {
        let readers = [try open(readOnly: true), try open(readOnly: true)]
        #expect(throws: BlockImageError.locked(waitedSeconds: 0.05)) { _ = try open() }
        withExtendedLifetime(readers) {}
    }
}
