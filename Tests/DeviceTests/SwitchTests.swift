import AVPTestSupport
import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// One switch port served in-process, driven by the Swift front end as a VM would.
final class PortFixture {
    let server: VhostUserServer
    let port: SwitchPort
    let driver: GuestDriver
    var rx: DriverQueue { driver.queues[0] }
    var tx: DriverQueue { driver.queues[1] }

    init(_ policy: NetPortPolicy, on fabric: EthernetSwitch, directory: String) throws {
        let logger = Logger(label: "test.switch")
        port = try SwitchPort(policy: policy, switch: fabric, logger: logger)
        server = try VhostUserServer(socketPath: "\(directory)/\(policy.name).sock", device: port, logger: logger)
        try server.start()
        driver = try GuestDriver.start(socketPath: "\(directory)/\(policy.name).sock", queueSizes: [256, 256])
    }

    deinit { server.stop() }

    /// Sends a frame (virtio-net header in front).
    func send(_ frame: [UInt8]) throws {
        let buffer = try driver.allocate(NetHeader.size + frame.count)
        try buffer.write([UInt8](repeating: 0, count: NetHeader.size) + frame)
        try tx.ring.add(readable: [buffer])
        tx.kick()
    }

    /// Posts receive buffers.
    func postReceiveBuffers(_ count: Int, size: Int = 1600) throws -> [GuestSlice] {
        let buffers = try (0..<count).map { _ in try driver.allocate(size) }
        for b in buffers { try rx.ring.add(writable: [b]) }
        rx.kick()
        return buffers
    }
}

func frame(to destination: MACAddress, from source: MACAddress, payload: Int = 46, tag: UInt8 = 0) -> [UInt8] {
    destination.bytes + source.bytes + [0x88, 0xb5] + [UInt8](repeating: tag, count: payload)
}

@Suite(.serialized) struct SwitchPolicies {
    let directory: String
    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-switch-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    static let a = MACAddress("02:00:00:00:00:0a")!, b = MACAddress("02:00:00:00:00:0b")!, c = MACAddress("02:00:00:00:00:0c")!

    func settle(_ condition: () -> Bool) {
        let deadline = MonotonicClock.seconds() + 3
        while !condition(), MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 5) }
    }

    @Test("AVPS-v2.0-15: unknown destinations are flooded, learned ones go to one port only")
    func learnsAndForwards() throws {
        let fabric = EthernetSwitch()
        let pa = try PortFixture(NetPortPolicy(name: "a", mac: Self.a), on: fabric, directory: directory)
        let pb = try PortFixture(NetPortPolicy(name: "b", mac: Self.b), on: fabric, directory: directory)
        let pc = try PortFixture(NetPortPolicy(name: "c", mac: Self.c), on: fabric, directory: directory)
        _ = try pb.postReceiveBuffers(8)
        _ = try pc.postReceiveBuffers(8)
        // a → b before b has sent anything: flooded to b and c.
        try pa.send(frame(to: Self.b, from: Self.a))
        #expect(try pb.rx.waitForUsed().count == 1)
        #expect(try pc.rx.waitForUsed().count == 1)
        // b answers: a is known now, so only a gets it.
        _ = try pa.postReceiveBuffers(8)
        try pb.send(frame(to: Self.a, from: Self.b))
        #expect(try pa.rx.waitForUsed().count == 1)
        // a → b again: b is learned; c sees nothing more.
        try pa.send(frame(to: Self.b, from: Self.a))
        #expect(try pb.rx.waitForUsed().count == 1)
        #expect(try pc.rx.waitForUsed(timeoutMilliseconds: 300).isEmpty)
        #expect(pc.port.counters.framesToGuest == 1)
    }

    @Test("AVPS-v2.0-30: a port sending from endless source MACs learns only its share of the table; frames still get through")
    func macTableIsBounded() throws {
        let fabric = EthernetSwitch(addressesPerPort: 16)
        let pa = try PortFixture(NetPortPolicy(name: "a", mac: Self.a), on: fabric, directory: directory)
        let pb = try PortFixture(NetPortPolicy(name: "b", mac: Self.b), on: fabric, directory: directory)
        _ = try pb.postReceiveBuffers(128)
        for i in 0..<100 { try pa.send(frame(to: Self.b, from: MACAddress(value: 0x02_00_00_01_00_00 + UInt64(i)))) }
        var received = 0
        settle {
            received += (try? pb.rx.waitForUsed(timeoutMilliseconds: 50).count) ?? 0
            return received == 100
        }
        #expect(received == 100, "b got \(received) of a's 100 frames")
        #expect(fabric.learnedAddresses == 16, "\(fabric.learnedAddresses) addresses learned")
        // b's own address is learned beside a's full share.
        _ = try pa.postReceiveBuffers(8)
        try pb.send(frame(to: Self.a, from: Self.b))
        settle { fabric.learnedAddresses == 17 }
        #expect(fabric.learnedAddresses == 17)
    }

    @Test("AVPS-v2.0-14: under mac-change deny, frames from another source MAC are dropped and counted")
    func deniedSourceMACIsDropped() throws {
        let fabric = EthernetSwitch()
        let pa = try PortFixture(NetPortPolicy(name: "a", mac: Self.a, extraMACs: [MACAddress("02:00:00:00:00:aa")!], macChange: .deny),
                                 on: fabric, directory: directory)
        let pb = try PortFixture(NetPortPolicy(name: "b", mac: Self.b), on: fabric, directory: directory)
        _ = try pb.postReceiveBuffers(8)
        try pa.send(frame(to: Self.b, from: MACAddress("02:12:34:56:78:9a")!))   // not allowed
        try pa.send(frame(to: Self.b, from: MACAddress("03:00:00:00:00:01")!))   // multicast source: never
        try pa.send(frame(to: Self.b, from: MACAddress("02:00:00:00:00:aa")!))   // listed
        try pa.send(frame(to: Self.b, from: Self.a))                              // the stable MAC
        #expect(try pb.rx.waitForUsed(count: 2).count == 2)
        settle { pa.port.counters.droppedSourceMAC == 2 }
        #expect(pa.port.counters.droppedSourceMAC == 2)
        #expect(try pb.rx.waitForUsed(timeoutMilliseconds: 200).isEmpty)
    }

    @Test("oversized, truncated and header-less frames are dropped and counted, the port goes on")
    func badFramesAreDropped() throws {
        let fabric = EthernetSwitch()
        let pa = try PortFixture(NetPortPolicy(name: "a", mac: Self.a, mtu: 1000), on: fabric, directory: directory)
        let pb = try PortFixture(NetPortPolicy(name: "b", mac: Self.b), on: fabric, directory: directory)
        _ = try pb.postReceiveBuffers(8)
        try pa.send(frame(to: Self.b, from: Self.a, payload: 1100))   // over a's MTU
        try pa.send([1, 2, 3, 4])                                      // shorter than an Ethernet header
        let bare = try pa.driver.allocate(6)                           // not even a virtio-net header
        try pa.tx.ring.add(readable: [bare])
        pa.tx.kick()
        try pa.send(frame(to: Self.b, from: Self.a, payload: 900))
        #expect(try pb.rx.waitForUsed().count == 1)
        settle { pa.port.counters.droppedOversize == 1 && pa.port.counters.droppedMalformed == 2 }
        #expect(pa.port.counters.droppedOversize == 1)
        #expect(pa.port.counters.droppedMalformed == 2)
        // Every transmitted chain went back to the guest.
        #expect(try pa.tx.waitForUsed(count: 4).count == 4)
    }

    @Test("a VM that floods a port fills only its own share; other senders still get through")
    func floodingDoesNotStarveOthers() throws {
        let fabric = EthernetSwitch()
        let flooder = try PortFixture(NetPortPolicy(name: "a", mac: Self.a), on: fabric, directory: directory)
        let victim = try PortFixture(NetPortPolicy(name: "b", mac: Self.b), on: fabric, directory: directory)
        let other = try PortFixture(NetPortPolicy(name: "c", mac: Self.c), on: fabric, directory: directory)
        // b learns its MAC, but posts no receive buffers yet: frames for it wait in its inbox.
        _ = try flooder.postReceiveBuffers(4)
        _ = try other.postReceiveBuffers(4)
        try victim.send(frame(to: MACAddress.broadcast, from: Self.b))
        settle { flooder.port.counters.framesToGuest == 1 }
        for _ in 0..<3 {
            for _ in 0..<100 { try flooder.send(frame(to: Self.b, from: Self.a, tag: 0xaa)) }
            _ = try flooder.tx.waitForUsed(count: 100)
        }
        try other.send(frame(to: Self.b, from: Self.c, tag: 0xcc))
        _ = try other.tx.waitForUsed()   // c's thread has queued the frame for b by now
        #expect(victim.port.counters.droppedBacklog == 300 - 256, "the flooder's share is capped")
        // Now b takes frames: c's frame arrives among the first, not after all of a's.
        let buffers = try victim.postReceiveBuffers(4)
        _ = try victim.rx.waitForUsed(count: 4)
        let tags = try buffers.map { try $0.bytes(at: NetHeader.size + 14, count: 1)[0] }
        #expect(tags.contains(0xcc), "round-robin delivery: \(tags)")
    }
}
