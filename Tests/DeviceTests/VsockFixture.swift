import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Testing
import VhostUser
import Virtio

/// A vsock device served in-process, driven by the Swift front end as a guest's driver would:
/// packets go out on tx, receive buffers are posted on rx.
final class VsockFixture {
    let device: VsockDevice
    let server: VhostUserServer
    let driver: GuestDriver
    let cid: UInt64
    var rx: DriverQueue { driver.queues[0] }
    var tx: DriverQueue { driver.queues[1] }
    private var posted: [UInt16: GuestSlice] = [:]

    /// With `hostSide`, packets to CID 2 go there; without, to Unix sockets at `<directory>/vm<cid>.vsock`.
    init(cid: UInt64, router: VsockRouter, directory: String, hostSide: VsockHostSide? = nil) throws {
        self.cid = cid
        let logger = Logger(label: "test.vsock")
        if let hostSide {
            device = try VsockDevice(cid: cid, hostSide: hostSide, router: router, logger: logger)
        } else {
            device = try VsockDevice(cid: cid, hostSocketPath: Self.hostSocket(cid, in: directory), router: router, logger: logger)
        }
        server = try VhostUserServer(socketPath: "\(directory)/vu\(cid).sock", device: device, logger: logger)
        try server.start()
        driver = try GuestDriver.start(socketPath: "\(directory)/vu\(cid).sock", queueSizes: [64, 64, 8])
    }

    deinit { server.stop() }

    static func hostSocket(_ cid: UInt64, in directory: String) -> String { "\(directory)/vm\(cid).vsock" }

    /// Posts `count` receive buffers of `size` bytes.
    func post(_ count: Int = 1, size: Int = 4096) throws {
        for _ in 0..<count {
            let buffer = try driver.allocate(size)
            posted[try rx.ring.add(writable: [buffer])] = buffer
        }
        rx.kick()
    }

    /// Sends raw bytes on tx and waits until the device has handled them.
    func sendRaw(_ bytes: [UInt8]) throws {
        let buffer = try driver.allocate(bytes.count)
        try buffer.write(bytes)
        try tx.ring.add(readable: [buffer])
        tx.kick()
        #expect(try tx.waitForUsed().count == 1)
    }

    func send(_ packet: VsockPacket) throws { try sendRaw(packet.header + packet.payload) }

    /// A packet from this guest.
    func packet(to cid: UInt64, port: UInt32, from sourcePort: UInt32, _ op: VsockPacket.Operation, flags: UInt32 = 0,
                payload: [UInt8] = []) -> VsockPacket {
        VsockPacket(sourceCID: self.cid, destinationCID: cid, sourcePort: sourcePort, destinationPort: port, operation: op,
                    flags: flags, bufferAllocation: 65536, forwardCount: 0, payload: payload)
    }

    /// Packets the device put in receive buffers: at least `count` unless `timeoutMilliseconds` pass.
    func receive(_ count: Int = 1, timeoutMilliseconds: Int = 5000) throws -> [VsockPacket] {
        try rx.waitForUsed(count: count, timeoutMilliseconds: timeoutMilliseconds).map { used in
            let buffer = try #require(posted[used.head])
            posted[used.head] = nil
            let bytes = try buffer.bytes(count: Int(used.length))
            let parsed = try #require(VsockPacket.parse(header: bytes))
            var packet = parsed.packet
            let length = parsed.length
            packet.payload = Array(bytes[VsockPacket.headerSize..<min(bytes.count, VsockPacket.headerSize + Int(length))])
            return packet
        }
    }
}

/// A host side that records what the guest sent and hands over packets a test queues.
final class RecordingHostSide: VsockHostSide, @unchecked Sendable {
    private struct State {
        var fromGuest: [VsockPacket] = []
        var forGuest: [VsockPacket] = []
        var roomAsked: [Int] = []
        var resets = 0
    }
    private let state = Mutex(State())
    private let event: EventFD

    init() throws { event = try EventFD() }

    var fromGuest: [VsockPacket] { state.withLock { $0.fromGuest } }
    var roomAsked: [Int] { state.withLock { $0.roomAsked } }
    var resets: Int { state.withLock { $0.resets } }

    /// Queues a packet for the guest and wakes the device.
    func push(_ packet: VsockPacket) {
        state.withLock { $0.forGuest.append(packet) }
        event.signal()
    }

    var eventDescriptors: [Int32] { [event.rawValue] }
    func handleEvent(descriptor: Int32) { event.drain() }
    func receive(fromGuest packet: VsockPacket) { state.withLock { $0.fromGuest.append(packet) } }
    func hasPacketForGuest() -> Bool { state.withLock { !$0.forGuest.isEmpty } }
    func reset() { state.withLock { $0.resets += 1 } }

    /// The first queued packet, split where it does not fit.
    func nextPacketForGuest(maxPayload: Int) -> VsockPacket? {
        state.withLock { s in
            s.roomAsked.append(maxPayload)
            guard var packet = s.forGuest.first else { return nil }
            if packet.payload.count > maxPayload {
                s.forGuest[0].payload.removeFirst(maxPayload)
                packet.payload = Array(packet.payload.prefix(maxPayload))
            } else {
                s.forGuest.removeFirst()
            }
            return packet
        }
    }
}

/// A scratch directory for one test.
func vsockScratchDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-vsock-\(try SystemRandom.uint64())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
