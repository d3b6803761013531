#if canImport(Glibc)
import AVPTestSupport
import Glibc
#endif
import CAVPShim
import Devices
import Logging
import GuestMemory
import SystemCalls
import Testing
import VhostUser
import Virtio

/// Front ends that attack the server process rather than the device (issue 8's outside
/// tester): memory that shrinks under a mapping, descriptors that would block, sockets
/// held by silent connections, a second server on a live socket. Each must cost at most
/// the guilty connection; the process and every other front end go on.
@Suite(.serialized) struct HostileFrontEnd {
    /// A front end that has negotiated and shared its (unsealed) memfd RAM, with no queue started.
    private func sharedDriver(_ f: ServerFixture) throws -> GuestDriver {
        try GuestDriver.start(socketPath: f.path, queueSizes: [])
    }

    /// One request served on `f`'s device by a fresh front end: the server is alive and serving.
    private func serves(_ f: ServerFixture) throws -> Bool {
        let driver = try f.driver()
        let w = try driver.allocate(32)
        try driver.queues[0].ring.add(writable: [w])
        driver.queues[0].kick()
        return try driver.queues[0].waitForUsed().map(\.length) == [32]
    }

    @Test func memoryShrunkBeforeTheKickCostsOnlyThatFrontEnd() throws {
        let victim = try ServerFixture(), bystander = try ServerFixture()
        // A front end on the other socket of the same process, mid-session.
        let other = try bystander.driver()
        let driver = try sharedDriver(victim)
        let queue = try driver.configureQueue(index: 0, size: 16)
        let err = try EventFD()
        try driver.frontend.sendAcked(.setVringErr(index: 0, err.descriptor))
        try driver.ram.file.truncate(to: 0)
        // Starting the ring reads its indices from memory that is gone: SIGBUS in the server.
        try? driver.frontend.send(.setVringKick(index: 0, queue.kickEvent.descriptor), ack: true)
        victim.waitForDisconnect(after: 1)
        #expect(!victim.server.isConnected)
        // The bystander's session is untouched, and the victim's socket serves the next front end.
        let w = try other.allocate(64)
        try other.queues[0].ring.add(writable: [w])
        other.queues[0].kick()
        #expect(try other.queues[0].waitForUsed().map(\.length) == [64])
        #expect(try serves(victim))
    }

    @Test func memoryShrunkUnderARunningQueueGivesNeedsResetAndADisconnect() throws {
        let f = try ServerFixture()
        let driver = try f.driver()
        let err = try EventFD()
        try driver.frontend.sendAcked(.setVringErr(index: 0, err.descriptor))
        let w = try driver.allocate(32)
        try driver.queues[0].ring.add(writable: [w])
        driver.queues[0].kick()
        #expect(try driver.queues[0].waitForUsed().map(\.length) == [32])
        try driver.ram.file.truncate(to: 0)
        driver.queues[0].kick()
        // The queue stops with its error eventfd signalled, and the front end is let go.
        #expect(err.wait(timeoutMilliseconds: 5000) != nil)
        f.waitForDisconnect(after: 1)
        #expect(!f.server.isConnected)
        #expect(try serves(f))
    }

    @Test func aSealableMemfdIsSealedAgainstShrinking() throws {
        let f = try ServerFixture()
        let driver = try GuestDriver.start(socketPath: f.path, queueSizes: [], sealableMemory: true)
        // Once the back end has mapped it, the front end can no longer shrink it (F_SEAL_SHRINK).
        #expect(throws: Errno(EPERM)) { try driver.ram.file.truncate(to: 0) }
        #expect(try driver.frontend.getQueueNum() == 1)
    }

    @Test func aBlockingKickEventfdNeverBlocksTheServer() throws {
        let f = try ServerFixture()
        let driver = try sharedDriver(f)
        let queue = try driver.configureQueue(index: 0, size: 16)
        let blocking = eventfd(0, Int32(EFD_CLOEXEC))
        #expect(blocking >= 0)
        let kick = FileDescriptor(adopting: blocking)
        let started = MonotonicClock.seconds()
        try driver.frontend.sendAcked(.setVringKick(index: 0, kick))
        try driver.frontend.sendAcked(.setVringEnable(index: 0, enabled: true))
        #expect(MonotonicClock.seconds() - started < 2)
        // The descriptor still works as a kick.
        let w = try driver.allocate(16)
        try queue.ring.add(writable: [w])
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(kick.rawValue, $0.baseAddress, 8) }
        #expect(try queue.waitForUsed().map(\.length) == [16])
        // And the server stops at once.
        let stopping = MonotonicClock.seconds()
        f.server.stop()
        #expect(MonotonicClock.seconds() - stopping < 1)
    }

    @Test func pipesAndFilesAreRefusedAsKickCallAndErrorDescriptors() throws {
        let f = try ServerFixture()
        let driver = try sharedDriver(f)
        _ = try driver.configureQueue(index: 0, size: 16)
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let reader = FileDescriptor(adopting: ends[0]), writer = FileDescriptor(adopting: ends[1])
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setVringKick(index: 0, reader)) }
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setVringCall(index: 0, writer)) }
        let file = try FileDescriptor.open("/dev/null", flags: O_RDWR)
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setVringErr(index: 0, file)) }
        // Refusals, not disconnections: the front end goes on with proper eventfds.
        #expect(try driver.frontend.getQueueNum() == 1)
        let queue = try driver.startQueue(index: 0, size: 16)
        let w = try driver.allocate(16)
        try queue.ring.add(writable: [w])
        queue.kick()
        #expect(try queue.waitForUsed().map(\.length) == [16])
    }

    @Test func aSilentConnectionDoesNotHoldTheSocket() throws {
        let f = try ServerFixture()
        // Connected first, never says a word.
        let silent = try UnixSocket.connect(to: f.path)
        let started = MonotonicClock.seconds()
        #expect(try serves(f))
        #expect(MonotonicClock.seconds() - started < 3)
        _ = silent
    }

    @Test func manyConnectionsDoNotLockOutTheFrontEnd() throws {
        let f = try ServerFixture()
        // More silent connections than may wait, then the real front end.
        let crowd = try (0..<20).map { _ in try UnixSocket.connect(to: f.path) }
        let started = MonotonicClock.seconds()
        #expect(try serves(f))
        #expect(MonotonicClock.seconds() - started < 8)
        _ = crowd
    }

    @Test func aSecondFrontEndWaitsForTheFirstToLeave() throws {
        let f = try ServerFixture()
        let first = try f.driver()
        // Sends GET_FEATURES while the first holds the device: answered once the first leaves.
        let second = try VhostUserFrontend.connect(to: f.path)
        try second.channel.send(VhostUserMessage(request: VhostUserRequest.getFeatures.rawValue))
        MonotonicClock.sleep(milliseconds: 300)
        first.frontend.channel.socket.shutdown()
        let reply = try second.receiveReply(to: .getFeatures)
        #expect(try second.u64(reply) & VirtioFeatures.version1.rawValue != 0)
    }

    @Test func aSecondServerCannotTakeALiveSocket() throws {
        let f = try ServerFixture()
        let logger = Logger(label: "test.second")
        #expect(throws: UnixListenerError.inUse(path: f.path)) {
            _ = try VhostUserServer(socketPath: f.path, device: EntropyDevice(logger: logger), logger: logger)
        }
        // The refused server neither replaced nor removed the file: the first still serves on it.
        #expect(try serves(f))
    }

    @Test func aStaleSocketFileIsReplacedAndOnlyTheOwnFileRemoved() throws {
        let path = "/tmp/avp-test-\(try SystemRandom.uint64()).sock"
        do {
            // A socket file nobody listens on any more (a crashed server's).
            let stale = try UnixListener(path: path)
            close(stale.socket.rawValue)
            _ = stale
        }
        let first = try UnixListener(path: path)
        // Someone replaced the file after we bound it: our removal must leave theirs alone.
        unlink(path)
        let second = try UnixListener(path: path)
        first.removeFile()
        #expect(access(path, F_OK) == 0)
        second.removeFile()
        #expect(access(path, F_OK) != 0)
    }

    @Test func overlappingFrontEndRangesAreRefused() throws {
        let f = try ServerFixture()
        let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: f.path))
        try driver.negotiate()
        let a = try SharedMemoryRegion(guestAddress: GuestAddress(0x1000_0000), size: 1 << 20, frontendBias: 0x7000_0000_0000)
        // Guest-disjoint, but the same front-end addresses: ring translation would be ambiguous.
        let b = try SharedMemoryRegion(guestAddress: GuestAddress(0x2000_0000), size: 1 << 20, frontendBias: 0x7000_0000_0000 - 0x1000_0000)
        #expect(throws: VhostUserError.self) { try driver.frontend.sendAcked(.setMemTable([a.descriptor, b.descriptor], [a.file, b.file])) }
        #expect(try driver.frontend.getQueueNum() == 1)
    }

    @Test func aMessageWithTooManyDescriptorsIsNamedForWhatItIs() throws {
        // A 33-region memory table, with its 33 descriptors in one sendmsg: the kernel delivers 32.
        let (near, far) = try UnixSocket.pair()
        let fds = try (0..<33).map { _ in try EventFD() }
        var w = ByteWriter()
        w.write(UInt32(VhostUserRequest.setMemTable.rawValue)); w.write(UInt32(1)); w.write(UInt32(8 + 33 * 32))
        w.write(UInt32(33)); w.write(UInt32(0))
        try far.send(w.bytes + [UInt8](repeating: 0, count: 33 * 32), descriptors: fds.map(\.rawValue))
        #expect(throws: VhostUserError.tooManyDescriptors(limit: 32)) { _ = try VhostUserChannel(socket: near).receive() }
        #expect(VhostUserError.tooManyDescriptors(limit: 32).description == "a message carried more than 32 file descriptors (the most one message may carry)")
        // The same 33, split over header and payload, are counted together.
        let (near2, far2) = try UnixSocket.pair()
        try far2.send(w.bytes.prefix(12).map { $0 }, descriptors: fds.prefix(32).map(\.rawValue))
        try far2.send(Array(w.bytes.dropFirst(12)) + [UInt8](repeating: 0, count: 33 * 32), descriptors: [fds[32].rawValue])
        #expect(throws: VhostUserError.tooManyDescriptors(limit: 32)) { _ = try VhostUserChannel(socket: near2).receive() }
    }
}
