#if canImport(Glibc)
import Glibc
#endif

/// A device's file I/O on its server's `EventLoopRing`: operations go on the loop's ring
/// (so the loop's next `io_uring_enter` submits them), completions come back sorted from the
/// loop's. The user data must leave bit 63 clear (the loop's).
public final class LoopRingFileIO: AsyncFileIO, @unchecked Sendable {
    private let loop: EventLoopRing

    public init(_ loop: EventLoopRing) { self.loop = loop }

    /// None: the loop reports completions itself (`LoopRingDevice.loopRingCompletionsReady`).
    public var completionDescriptor: Int32? { nil }
    public var pendingSubmissions: UInt32 { loop.ring.pendingSubmissions }

    /// The device's user data leaves the loop's bit clear (a programming error otherwise).
    private func deviceOwned(_ userData: UInt64) -> Bool {
        precondition(userData & EventLoopRing.loopBit == 0)
        return true
    }

    public func prepareRead(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, userData: UInt64) -> Bool {
        deviceOwned(userData) && loop.ring.prepareRead(fd: fd, vectors: vectors, count: count, offset: offset, userData: userData)
    }

    public func prepareWrite(fd: Int32, vectors: UnsafePointer<iovec>, count: Int, offset: UInt64, dataSync: Bool, userData: UInt64) -> Bool {
        deviceOwned(userData) && loop.ring.prepareWrite(fd: fd, vectors: vectors, count: count, offset: offset, dataSync: dataSync, userData: userData)
    }

    public func prepareDataSync(fd: Int32, userData: UInt64) -> Bool {
        deviceOwned(userData) && loop.ring.prepareDataSync(fd: fd, userData: userData)
    }

    public func prepareFallocate(fd: Int32, mode: Int32, offset: UInt64, length: UInt64, userData: UInt64) -> Bool {
        deviceOwned(userData) && loop.ring.prepareFallocate(fd: fd, mode: mode, offset: offset, length: length, userData: userData)
    }

    /// Submits (with the loop's own prepared polls and writes) and waits until `waitFor` of
    /// the device's completions are ready; the loop's wake-ups meanwhile are kept for it.
    public func submit(waitFor: UInt32) throws(Errno) {
        try loop.submit(minimum: 0, timeoutMilliseconds: -1)
        loop.take()
        while loop.readyDeviceCompletions < Int(waitFor) {
            try loop.submit(minimum: 1, timeoutMilliseconds: -1)
            loop.take()
        }
    }

    public func nextCompletion() -> IOUring.Completion? { loop.nextDeviceCompletionTaken() }
}

/// A device whose file I/O can share its server's `EventLoopRing` (`VhostUserServer` offers
/// it before serving).
public protocol LoopRingDevice: AnyObject {
    /// Submission queue entries the device's file I/O wants in flight.
    var loopRingEntries: UInt32 { get }
    /// From now on, do file I/O through `io`. Called before any request.
    func adoptLoopRing(_ io: AsyncFileIO)
    /// Completions of `io` are waiting: take them.
    func loopRingCompletionsReady()
}
