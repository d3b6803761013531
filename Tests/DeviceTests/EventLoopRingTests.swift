import CAVPShim
import Foundation
import Synchronization
import SystemCalls
import Testing

/// The io_uring a server thread waits on: kicks polled on it, call eventfds written through
/// it, the device's file I/O sharing it.
@Suite struct EventLoopRingBehaviour {
    @Test func aKickWakesTheLoopOncePerWriteWithoutBeingRead() throws {
        let ring = try EventLoopRing(entries: 64)
        let kick = try EventFD()
        ring.watch(fd: kick.rawValue, token: 7)
        kick.signal()
        #expect(try ring.woken(timeoutMilliseconds: 2000) == [7])
        // Edge-triggered: the counter is still non-zero, but nothing new was written.
        #expect(try ring.woken(timeoutMilliseconds: 50) == [])
        kick.signal()
        #expect(try ring.woken(timeoutMilliseconds: 2000) == [7])
    }

    @Test func anUnwatchedKickIsQuietAndAReusedTokenIgnoresTheOldDescriptor() throws {
        let ring = try EventLoopRing(entries: 64)
        let old = try EventFD(), new = try EventFD()
        ring.watch(fd: old.rawValue, token: 3)
        ring.unwatch(token: 3)
        ring.watch(fd: new.rawValue, token: 3)
        old.signal()
        #expect(try ring.woken(timeoutMilliseconds: 50) == [])
        new.signal()
        #expect(try ring.woken(timeoutMilliseconds: 2000) == [3])
        ring.unwatch(token: 3)
        new.signal()
        #expect(try ring.woken(timeoutMilliseconds: 50) == [])
    }

    @Test func callWritesLeaveWithTheNextSubmissionOncePerEventFD() throws {
        let ring = try EventLoopRing(entries: 64)
        let call = try EventFD()
        _ = try ring.woken(timeoutMilliseconds: 0)   // the loop's thread is this one now
        #expect(ring.signal(eventFD: call.rawValue))
        #expect(ring.signal(eventFD: call.rawValue))
        #expect(call.drain() == nil)
        try ring.flush()
        #expect(call.drain() == 1)
        #expect(ring.failedSignals == 0)
    }

    @Test func anotherThreadWritesTheEventFDItself() throws {
        let ring = try EventLoopRing(entries: 64)
        let call = try EventFD()
        _ = try ring.woken(timeoutMilliseconds: 0)
        let accepted = Mutex(true)
        let thread = try OSThread(name: "other") { accepted.withLock { $0 = ring.signal(eventFD: call.rawValue) } }
        thread.join()
        #expect(accepted.withLock { $0 } == false)
    }

    @Test func theRingRefusesOperationsOutsideItsList() throws {
        let file = try BufferedWritesInPlaceEngine.ScratchFile()
        let vector = BufferedWritesInPlaceEngine.Vector([UInt8](repeating: 0, count: 4096))
        let pollOnly = try IOUring(entries: 8, allowedOperations: [UInt8(IORING_OP_POLL_ADD.rawValue)])
        #expect(pollOnly.prepareRead(fd: file.fd, vectors: vector.pointer, count: 1, offset: 0, userData: 1))
        try pollOnly.submit(waitFor: 1)
        #expect(pollOnly.nextCompletion()?.result == -EACCES)
        // The loop's own list has no open, connect or socket.
        #expect(!EventLoopRing.allowedOperations.contains(UInt8(IORING_OP_OPENAT.rawValue)))
        #expect(!EventLoopRing.allowedOperations.contains(UInt8(IORING_OP_CONNECT.rawValue)))
    }

    @Test func deviceFileIOWaitsOnTheLoopsRingAndLeavesItsKicksToIt() throws {
        let ring = try EventLoopRing(entries: 64)
        let io = LoopRingFileIO(ring)
        let file = try BufferedWritesInPlaceEngine.ScratchFile()
        let kick = try EventFD()
        ring.watch(fd: kick.rawValue, token: 9)
        _ = try ring.woken(timeoutMilliseconds: 0)
        kick.signal()
        let vector = BufferedWritesInPlaceEngine.Vector([UInt8](repeating: 0, count: 4096))
        #expect(io.prepareRead(fd: file.fd, vectors: vector.pointer, count: 1, offset: 4096, userData: 42))
        try io.submit(waitFor: 1)
        let completion = io.nextCompletion()
        #expect(completion?.userData == 42 && completion?.result == 4096)
        #expect(io.nextCompletion() == nil)
        #expect(try ring.woken(timeoutMilliseconds: 2000) == [9])
    }
}

extension EventLoopRing {
    /// The tokens one `wait` reports.
    func woken(timeoutMilliseconds: Int32) throws -> [UInt64] {
        var tokens: [UInt64] = []
        try wait(timeoutMilliseconds: timeoutMilliseconds) { tokens.append($0) }
        return tokens
    }
}
