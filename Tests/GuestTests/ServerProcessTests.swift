import AVPTestSupport
import CAVPShim
import Foundation
import GuestMemory
import SystemCalls
import Testing
import VhostUser
import Virtio

/// `avp serve` processes attacked by a hostile front end (issue 8): the guilty
/// connection may lose its device, never the process, its other sockets, or its socket
/// file; and SIGTERM ends the process within a second whatever the front end did.
/// No guest is booted: the Swift front end plays the VMM.
@Suite(.serialized) struct ServerProcessUnderAttack {
    private func directory(_ name: String) throws -> String { try GuestHarness.workDirectory(name) }

    /// A fresh front end gets one entropy request served on `socket`.
    private func entropyServes(_ socket: String) throws -> Bool {
        let driver = try GuestDriver.start(socketPath: socket, queueSizes: [16])
        let w = try driver.allocate(32)
        try driver.queues[0].ring.add(writable: [w])
        driver.queues[0].kick()
        return try driver.queues[0].waitForUsed().map(\.length) == [32]
    }

    /// `avp serve entropy` serving two sockets from one process, both bound.
    private func entropyServerOnTwoSockets(_ name: String) throws -> (ServerProcess, a: String, b: String) {
        let dir = try directory(name)
        let a = dir + "/a.sock", b = dir + "/b.sock"
        let server = try ServerProcess(arguments: ["serve", "entropy", "--socket", a, "--socket", b], logPath: dir + "/server.log")
        try server.waitForSocket(b)
        return (server, a, b)
    }

    /// Waits up to `seconds` for the process to exit; true if it did.
    private func exits(_ server: ServerProcess, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while server.isRunning, Date() < deadline { usleep(10_000) }
        return !server.isRunning
    }

    @Test func aShrunkMemfdOnOneSocketLeavesTheOtherSocketAndTheProcessServing() throws {
        let (server, a, b) = try entropyServerOnTwoSockets("shrink")
        defer { server.stop() }
        let bystander = try GuestDriver.start(socketPath: b, queueSizes: [16])

        let attacker = try GuestDriver.start(socketPath: a, queueSizes: [])
        let queue = try attacker.configureQueue(index: 0, size: 16)
        try attacker.ram.file.truncate(to: 0)
        try? attacker.frontend.send(.setVringKick(index: 0, queue.kickEvent.descriptor), ack: true)
        usleep(300_000)

        #expect(server.isRunning, "log:\n\(server.log)")
        let w = try bystander.allocate(64)
        try bystander.queues[0].ring.add(writable: [w])
        bystander.queues[0].kick()
        #expect(try bystander.queues[0].waitForUsed().map(\.length) == [64])
        #expect(try entropyServes(a))
        #expect(server.log.contains("faulted"))
    }

    @Test func aBlockServerSurvivesMemoryShrunkUnderARunningQueue() throws {
        let dir = try directory("shrink-block")
        let socket = dir + "/disk.sock", image = dir + "/disk.img"
        #expect(FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20)))
        let server = try ServerProcess(arguments: ["serve", "block", "--socket", socket, "--file", image], logPath: dir + "/server.log")
        defer { server.stop() }
        try server.waitForSocket(socket)
        let driver = try GuestDriver.start(socketPath: socket, queueSizes: [16])
        let err = try EventFD()
        try driver.frontend.sendAcked(.setVringErr(index: 0, err.descriptor))
        // A valid read first (type 0 = IN, sector 0, 512 bytes, status byte).
        let header = try driver.allocate(16), data = try driver.allocate(512), status = try driver.allocate(1)
        try header.store(UInt32(0), at: 0)
        try driver.queues[0].ring.add(readable: [header], writable: [data, status])
        driver.queues[0].kick()
        #expect(try driver.queues[0].waitForUsed().count == 1)
        // The front end shrinks its RAM, then kicks again.
        try driver.ram.file.truncate(to: 0)
        driver.queues[0].kick()
        #expect(err.wait(timeoutMilliseconds: 5000) != nil)
        #expect(server.isRunning, "log:\n\(server.log)")
        // The next front end is served.
        let next = try VhostUserFrontend.connect(to: socket)
        #expect(try next.getFeatures() & VirtioFeatures.version1.rawValue != 0)
    }

    @Test func sigtermStopsTheServerWithinASecondWhateverTheFrontEndsDid() throws {
        let (server, a, b) = try entropyServerOnTwoSockets("sigterm")
        defer { server.kill() }
        // On a: a blocking eventfd as the kick (draining it used to block the thread for ever).
        let driver = try GuestDriver.start(socketPath: a, queueSizes: [])
        _ = try driver.configureQueue(index: 0, size: 16)
        let blocking = FileDescriptor(adopting: eventfdBlocking())
        try driver.frontend.sendAcked(.setVringKick(index: 0, blocking))
        // On b: half a message, then silence; and a connection that never speaks.
        let half = try UnixSocket.connect(to: b)
        try half.send([1, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 1, 2])
        let silent = try UnixSocket.connect(to: b)
        usleep(200_000)
        let started = Date()
        server.process.terminate()
        #expect(exits(server, within: 1.0), "still running 1 s after SIGTERM; log:\n\(server.log)")
        #expect(Date().timeIntervalSince(started) < 1.0)
        _ = (half, silent)
    }

    @Test func aSecondServerRefusesALiveSocketAndLeavesItAlone() throws {
        let dir = try directory("takeover")
        let socket = dir + "/rng.sock"
        let first = try ServerProcess(arguments: ["serve", "entropy", "--socket", socket], logPath: dir + "/first.log")
        defer { first.stop() }
        try first.waitForSocket(socket)
        let second = try ServerProcess(arguments: ["serve", "entropy", "--socket", socket], logPath: dir + "/second.log")
        #expect(exits(second, within: 10))
        #expect(second.process.terminationStatus != 0)
        #expect(second.log.contains("in use"), "log:\n\(second.log)")
        #expect(FileManager.default.fileExists(atPath: socket))
        #expect(try entropyServes(socket))

        // A crashed server's socket file is stale: the next server takes it over.
        first.kill()
        #expect(FileManager.default.fileExists(atPath: socket))
        let third = try ServerProcess(arguments: ["serve", "entropy", "--socket", socket], logPath: dir + "/third.log")
        defer { third.stop() }
        usleep(300_000)
        #expect(third.isRunning, "log:\n\(third.log)")
        #expect(try entropyServes(socket))
    }
}

/// A blocking eventfd (no EFD_NONBLOCK), as a careless or hostile front end may send.
private func eventfdBlocking() -> Int32 {
    let fd = eventfd(0, Int32(EFD_CLOEXEC))
    precondition(fd >= 0, "eventfd failed")
    return fd
}
