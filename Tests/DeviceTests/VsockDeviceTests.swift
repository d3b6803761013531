import AVPTestSupport
import Devices
import Foundation
import SystemCalls
import Testing

/// The vsock device with a recorded host side: what it checks and routes, and how it fills
/// receive buffers (VIRTIO 1.2 §5.10.6).
@Suite(.serialized) struct VsockDeviceQueues {
    let directory: String
    init() throws { directory = try vsockScratchDirectory() }

    @Test("AVPS-v2.0-16: stream packets to CID 2 reach the host side; forged, malformed and misaddressed packets do not")
    func routing() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = try RecordingHostSide()
        let vm = try VsockFixture(cid: 3, router: VsockRouter(allowedPairs: []), directory: directory, hostSide: host)
        try vm.post(8)

        let good = vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: Array("abc".utf8))
        try vm.send(good)
        var forged = vm.packet(to: 2, port: 5000, from: 1000, .request)
        forged.sourceCID = 9
        try vm.send(forged)
        var seqpacket = vm.packet(to: 2, port: 5000, from: 1001, .request)
        seqpacket.type = 2
        try vm.send(seqpacket)
        try vm.send(vm.packet(to: 3, port: 5000, from: 1002, .request))   // itself
        try vm.send(vm.packet(to: 1, port: 5000, from: 1003, .request))   // reserved
        try vm.send(vm.packet(to: 1, port: 5000, from: 1004, .reset))     // a RST is never answered
        var lying = vm.packet(to: 2, port: 5000, from: 1005, .readWrite, payload: [1, 2, 3]).header
        lying[24] = 100                                                     // len: 100, with 3 bytes behind
        try vm.sendRaw(lying + [1, 2, 3])
        try vm.sendRaw([UInt8](repeating: 0, count: 20))                    // shorter than a header

        #expect(host.fromGuest == [good])
        let answers = try vm.receive(3)
        #expect(answers.map(\.op) == [.reset, .reset, .reset])
        #expect(answers.map(\.sourcePort) == [5000, 5000, 5000] && answers.map(\.destinationPort) == [1001, 1002, 1003])
        #expect(answers.allSatisfy { $0.destinationCID == 3 })
        #expect(try vm.receive(1, timeoutMilliseconds: 200).isEmpty)
    }

    @Test("AVPS-v2.0-16: the host side's packets fill receive buffers only when there is one, split to the buffer's room")
    func receiveBuffers() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = try RecordingHostSide()
        let vm = try VsockFixture(cid: 3, router: VsockRouter(allowedPairs: []), directory: directory, hostSide: host)
        try vm.post(1, size: VsockPacket.headerSize + 100)
        #expect(try vm.receive(1, timeoutMilliseconds: 200).isEmpty, "no buffer is used while nothing is pending")

        let data = VsockPacket(sourceCID: 2, destinationCID: 3, sourcePort: 5000, destinationPort: 1000, operation: .readWrite,
                               payload: (0..<250).map { UInt8($0) })
        host.push(data)
        let first = try vm.receive(1)
        #expect(first.map(\.payload.count) == [100])
        #expect(host.roomAsked.last == 100)
        try vm.post(2, size: 4096)
        let rest = try vm.receive(1)
        #expect(rest.map(\.payload.count) == [150])
        #expect(first[0].payload + rest[0].payload == data.payload)
    }

    @Test("AVPS-v2.0-16: VM-to-VM packets pass between an allowed pair; other VMs and unknown CIDs get RST")
    func betweenVMs() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let router = VsockRouter(allowedPairs: [(3, 4)])
        let a = try VsockFixture(cid: 3, router: router, directory: directory, hostSide: try RecordingHostSide())
        let b = try VsockFixture(cid: 4, router: router, directory: directory, hostSide: try RecordingHostSide())
        let c = try VsockFixture(cid: 5, router: router, directory: directory, hostSide: try RecordingHostSide())
        for vm in [a, b, c] { try vm.post(4) }

        let request = a.packet(to: 4, port: 7000, from: 1000, .request)
        try a.send(request)
        #expect(try b.receive() == [request])
        try a.send(a.packet(to: 5, port: 7000, from: 1001, .request))
        try a.send(a.packet(to: 6, port: 7000, from: 1002, .request))
        let refused = try a.receive(2)
        #expect(refused.map(\.op) == [.reset, .reset] && refused.map(\.sourceCID) == [5, 6])
        #expect(try c.receive(1, timeoutMilliseconds: 200).isEmpty, "a VM the policy does not pair is never reached")
    }
}

/// The vsock device with its Unix-socket host side, in-process: host processes and the
/// guest's driver on either end of real streams.
@Suite(.serialized) struct VsockUnixHostSide {
    let directory: String
    init() throws { directory = try vsockScratchDirectory() }

    /// Reads from a host stream until `done` holds, the stream ends, or 3 s pass.
    func collect(_ s: NonBlockingStream, until done: ([UInt8]) -> Bool = { _ in false }) throws -> (bytes: [UInt8], ended: Bool) {
        var bytes: [UInt8] = []
        let deadline = MonotonicClock.seconds() + 3
        while MonotonicClock.seconds() < deadline, !done(bytes) {
            switch try s.receive(upTo: 4096) {
            case let .received(b): bytes += b
            case .endOfStream: return (bytes, true)
            case .wouldBlock: MonotonicClock.sleep(milliseconds: 5)
            }
        }
        return (bytes, false)
    }

    @Test("AVPS-v2.0-16: a host process's CONNECT reaches the guest; data flows both ways; the guest's half-close ends only its direction")
    func hostInitiated() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vm = try VsockFixture(cid: 3, router: VsockRouter(allowedPairs: []), directory: directory)
        try vm.post(16)
        let process = try NonBlockingStream.connect(to: VsockFixture.hostSocket(3, in: directory))
        #expect(try process.send(Array("CONNECT 6000\nearly".utf8)) == .sent(18))

        let request = try #require(try vm.receive().first)
        #expect(request.op == .request && request.sourceCID == 2 && request.destinationCID == 3 && request.destinationPort == 6000)
        let hostPort = request.sourcePort
        try vm.send(vm.packet(to: 2, port: hostPort, from: 6000, .response))
        #expect(String(decoding: try collect(process) { $0.contains(0x0a) }.bytes, as: UTF8.self) == "OK \(hostPort)\n")
        #expect(try vm.receive().map(\.payload) == [Array("early".utf8)], "bytes after the CONNECT line are the stream's first")

        try vm.send(vm.packet(to: 2, port: hostPort, from: 6000, .readWrite, payload: Array("ping".utf8)))
        #expect(try collect(process) { $0.count >= 4 }.bytes == Array("ping".utf8))
        _ = try process.send(Array("pong".utf8))
        #expect(try vm.receive().map(\.payload) == [Array("pong".utf8)])

        // The guest will send no more: the host process reads end of stream, and can still answer.
        try vm.send(vm.packet(to: 2, port: hostPort, from: 6000, .shutdown, flags: VsockPacket.shutdownSend))
        #expect(try collect(process).ended)
        _ = try process.send(Array("after".utf8))
        #expect(try vm.receive().map(\.payload) == [Array("after".utf8)])

        // The host process ends its side: the guest gets SHUTDOWN, answers RST.
        process.shutdown(.write)
        let shutdown = try vm.receive()
        #expect(shutdown.map(\.op) == [.shutdown] && shutdown.first?.flags == VsockPacket.shutdownReceive | VsockPacket.shutdownSend)
        try vm.send(vm.packet(to: 2, port: hostPort, from: 6000, .reset))
        #expect(try vm.receive(1, timeoutMilliseconds: 200).isEmpty, "a RST is not answered")
    }

    @Test("AVPS-v2.0-16: a guest connecting to CID 2 port P reaches <uds>_P; nobody listening means RST; full shutdown is answered by RST")
    func guestInitiated() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vm = try VsockFixture(cid: 3, router: VsockRouter(allowedPairs: []), directory: directory)
        try vm.post(16)
        let listener = try UnixListener(path: VsockFixture.hostSocket(3, in: directory) + "_5000")

        try vm.send(vm.packet(to: 2, port: 5001, from: 999, .request))
        #expect(try vm.receive().map(\.op) == [.reset], "nobody listens on _5001")

        try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .request))
        let response = try vm.receive()
        #expect(response.map(\.op) == [.response] && response.first?.bufferAllocation == VsockDevice.bufferAllocation)
        let peer = try NonBlockingStream(adopting: try #require(try listener.accept(waitingMilliseconds: 3000)))
        try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: Array("hello".utf8)))
        #expect(try collect(peer) { $0.count >= 5 }.bytes == Array("hello".utf8))
        _ = try peer.send(Array("hi".utf8))
        #expect(try vm.receive().map(\.payload) == [Array("hi".utf8)])

        try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .shutdown, flags: VsockPacket.shutdownReceive | VsockPacket.shutdownSend))
        #expect(try vm.receive().map(\.op) == [.reset])
        #expect(try collect(peer).ended, "the host process sees the stream end")
        // The connection is gone: data on it is refused.
        try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: [1]))
        #expect(try vm.receive().map(\.op) == [.reset])
    }

    @Test("AVPS-v2.0-16: a host process that does not read holds the guest to its credit; data is kept, not lost; beyond the credit the guest is reset")
    func slowHostProcess() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vm = try VsockFixture(cid: 3, router: VsockRouter(allowedPairs: []), directory: directory)
        try vm.post(32)
        let listener = try UnixListener(path: VsockFixture.hostSocket(3, in: directory) + "_5000")
        try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .request))
        #expect(try vm.receive().map(\.op) == [.response])
        let peer = try NonBlockingStream(adopting: try #require(try listener.accept(waitingMilliseconds: 3000)))

        // Exactly the credit, while the host process reads nothing: what the socket does not take waits in AVP.
        let chunk = 64 * 1024
        var sent: [UInt8] = []
        for i in 0..<Int(VsockDevice.bufferAllocation) / chunk {
            let payload = [UInt8](repeating: UInt8(i + 1), count: chunk)
            try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: payload))
            sent += payload
        }
        #expect(try collect(peer) { $0.count >= sent.count }.bytes == sent, "every byte arrives once the host reads")
        let updates = try vm.receive(1)
        #expect(!updates.isEmpty && updates.allSatisfy { $0.op == .creditUpdate }, "the guest hears about the space freed")

        // A guest that ignores its credit: 1 MiB at a host process that does not read.
        for _ in 0..<16 { try vm.send(vm.packet(to: 2, port: 5000, from: 1000, .readWrite, payload: [UInt8](repeating: 7, count: chunk))) }
        var answers: [VsockPacket.Operation?] = []
        let deadline = MonotonicClock.seconds() + 3
        while !answers.contains(.reset), MonotonicClock.seconds() < deadline {
            answers += try vm.receive(1, timeoutMilliseconds: 100).map(\.op)
        }
        #expect(answers.contains(.reset))
        #expect(try collect(peer).ended, "the host process's stream is closed")
    }
}
