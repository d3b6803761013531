import AVPTestSupport
import Devices
import SystemCalls
import Testing
import Virtio

/// virtio-scmi (VIRTIO 1.2 §5.21) with the SCMI protocols Linux 6.12 uses (DEN0056): base
/// discovery, sensor management 3.0, performance, power and reset domains, each VM seeing only
/// its own sensors and domains, numbered from 0.
@Suite("SCMI device (AVPS-v2.0-39, AVPS-v2.0-36)", .serialized)
struct ScmiDeviceTests {
    @Test("feature P2A_CHANNELS offered; base protocol: version, attributes, vendor, protocol list, agent")
    func base() throws {
        let f = try ScmiFixture()
        #expect(try f.ivi.driver.frontend.getFeatures() & 1 == 1)
        let v = try f.ivi.command(.base, 0x0)
        #expect(v.status == Scmi.success && Scmi.u32(v.payload, 0) == 0x2_0000)
        let attributes = try f.ivi.command(.base, 0x1)
        #expect(Scmi.u32(attributes.payload, 0) == 1 << 8 | 4, "one agent, four protocols for ivi")
        #expect(Scmi.u32(try f.cluster.command(.base, 0x1).payload, 0) == 1 << 8 | 3, "power, performance, sensor for cluster")
        #expect(Scmi.name(try f.ivi.command(.base, 0x3).payload, 0) == "AVP")
        #expect(Scmi.name(try f.ivi.command(.base, 0x4).payload, 0) == "vhost-user")
        let list = try f.ivi.command(.base, 0x6, [0])
        #expect(Scmi.u32(list.payload, 0) == 4)
        #expect(Array(list.payload[4..<8]) == [0x11, 0x13, 0x15, 0x16])
        let skipped = try f.ivi.command(.base, 0x6, [3])
        #expect(Scmi.u32(skipped.payload, 0) == 1 && skipped.payload.count == 8, "padded to a word")
        #expect(try f.ivi.command(.base, 0x6, [5]).status == Scmi.invalidParameters)
        let me = try f.ivi.command(.base, 0x7, [0xFFFF_FFFF])
        #expect(Scmi.u32(me.payload, 0) == 1 && Scmi.name(me.payload, 4) == "ivi")
        #expect(try f.ivi.command(.base, 0x7, [2]).status == Scmi.notFound)
        #expect(try f.ivi.command(.base, 0x2, [0x6]).status == Scmi.success)
        #expect(try f.ivi.command(.base, 0x2, [0x9]).status == Scmi.notFound)
        #expect(try f.ivi.command(.base, 0x10, [0x2_0000]).status == Scmi.success, "NEGOTIATE_PROTOCOL_VERSION to its own version")
        #expect(try f.ivi.command(.base, 0x10, [0x3_0000]).status == Scmi.notSupported)
    }

    @Test("sensors: each VM's descriptions renumbered from 0, v3 attributes, names and types")
    func sensorDescriptions() throws {
        let f = try ScmiFixture()
        #expect(Scmi.u32(try f.ivi.command(.sensor, 0x0).payload, 0) == 0x3_0000)
        #expect(Scmi.u16(try f.ivi.command(.sensor, 0x1).payload, 0) == 2)
        let d = try f.ivi.command(.sensor, 0x3, [0])
        #expect(d.status == Scmi.success)
        #expect(Scmi.u16(d.payload, 0) == 2 && Scmi.u16(d.payload, 2) == 0)
        #expect(Scmi.u32(d.payload, 4) == 0 && Scmi.name(d.payload, 16) == "coolant")
        #expect(Scmi.u32(d.payload, 12) & 0xFF == 2, "degrees Celsius")
        #expect((Scmi.u32(d.payload, 12) >> 11) & 0x1F == 0x1D, "scale -3")
        let low = Scmi.u32(d.payload, 8)
        #expect(low & (1 << 30) != 0 && low & (1 << 9) != 0 && low & (1 << 31) == 0, "update notifications, timestamps, synchronous")
        #expect(Scmi.u32(d.payload, 32) == 1 && Scmi.name(d.payload, 44) == "speed")
        #expect(Scmi.u32(d.payload, 40) & 0xFF == 0x5A, "metres per second")
        let c = try f.cluster.command(.sensor, 0x3, [0])
        #expect(Scmi.u16(c.payload, 0) == 1 && Scmi.name(c.payload, 16) == "battery")
        #expect(try f.cluster.command(.sensor, 0x3, [1]).status == Scmi.invalidParameters)
        // A small buffer: as many descriptors as fit, the rest remaining.
        let small = try f.ivi.command(.sensor, 0x3, [0], responseSize: 8 + 4 + 28)
        #expect(Scmi.u16(small.payload, 0) == 1 && Scmi.u16(small.payload, 2) == 1)
        #expect(try f.ivi.command(.sensor, 0x7, [0, 0]).status == Scmi.notSupported, "no axes")
        #expect(try f.ivi.command(.sensor, 0x4, [0, 1]).status == Scmi.notSupported, "no trip points")
    }

    @Test("SENSOR_READING_GET: the host's value in thousandths with a timestamp; another VM's sensor is not addressable")
    func readings() throws {
        let f = try ScmiFixture()
        try f.signals.set("coolant", to: 87.25)
        let r = try f.ivi.command(.sensor, 0x6, [0, 0])
        #expect(r.status == Scmi.success && r.payload.count == 16)
        #expect(Scmi.i64(r.payload, 0) == 87_250)
        let t1 = Scmi.i64(r.payload, 8)
        #expect(t1 > 0)
        try f.signals.set("coolant", to: -12.5)
        let r2 = try f.ivi.command(.sensor, 0x6, [0, 0])
        #expect(Scmi.i64(r2.payload, 0) == -12_500)
        #expect(Scmi.i64(r2.payload, 8) > t1)
        try f.signals.clear("coolant")
        let traced = Scmi.i64(try f.ivi.command(.sensor, 0x6, [0, 0]).payload, 0)
        #expect((20_000...25_000).contains(traced), "the trace's value near its start: \(traced)")
        #expect(Scmi.i64(try f.cluster.command(.sensor, 0x6, [0, 0]).payload, 0) >= 12_500)
        #expect(try f.cluster.command(.sensor, 0x6, [1, 0]).status == Scmi.notFound)
        #expect(try f.ivi.command(.sensor, 0x6, [0, 1]).status == Scmi.notSupported, "asynchronous read")
        #expect(try f.ivi.command(.sensor, 0x6, [0]).status == Scmi.protocolError, "short parameters")
    }

    @Test("CONFIG_GET/SET, LIST_UPDATE_INTERVALS and continuous SENSOR_UPDATE notifications on the eventq")
    func notifications() throws {
        let f = try ScmiFixture()
        let config = Scmi.u32(try f.ivi.command(.sensor, 0x9, [1]).payload, 0)
        #expect(config & 3 == 3, "enabled, timestamps")
        let intervals = try f.ivi.command(.sensor, 0x8, [1, 0])
        #expect(Scmi.u32(intervals.payload, 0) == 3 | 1 << 12)
        // 50 ms: mantissa 5, exponent -2.
        let word: UInt32 = 5 << 16 | UInt32(UInt8(bitPattern: -2) & 0x1F) << 11 | 3
        #expect(try f.ivi.command(.sensor, 0xA, [1, word]).status == Scmi.success)
        #expect(Scmi.u32(try f.ivi.command(.sensor, 0x9, [1]).payload, 0) == word)
        #expect(try f.ivi.command(.sensor, 0xA, [1, 5 << 16 | UInt32(UInt8(bitPattern: -4) & 0x1F) << 11 | 1]).status == Scmi.outOfRange,
                "0.5 ms is below 10 ms")
        try f.signals.set("speed", to: 27.5)
        try f.ivi.postEventBuffers(4)
        let start = MonotonicClock.nanoseconds()
        #expect(try f.ivi.command(.sensor, 0xB, [1, 1]).status == Scmi.success)
        let messages = try f.ivi.notifications(count: 3)
        let elapsed = Double(MonotonicClock.nanoseconds() - start) / 1e6
        #expect(elapsed >= 100 && elapsed < 1000, "three updates 50 ms apart: \(elapsed) ms")
        for m in messages {
            let header = ScmiMessageHeader(raw: Scmi.u32(m, 0))
            #expect(header.type == 3 && header.protocolID == 0x15 && header.messageID == 1)
            #expect(m.count == 4 + 8 + 16)
            #expect(Scmi.u32(m, 8) == 1, "sensor 1 of the VM")
            #expect(Scmi.i64(m, 12) == 27_500)
        }
        #expect(try f.ivi.command(.sensor, 0xB, [1, 0]).status == Scmi.success)
        #expect(try f.ivi.command(.sensor, 0xB, [1, 7]).status == Scmi.invalidParameters)
        #expect(f.devices[0].statistics.notifications == 3)
    }

    @Test("performance: levels, the highest request of the VMs wins, capped by the host's limit, LEVEL_GET sees the effective level")
    func performance() throws {
        let f = try ScmiFixture()
        let a = try f.ivi.command(.performance, 0x3, [0])
        #expect(a.status == Scmi.success && Scmi.u32(a.payload, 0) == 0xC000_0000)
        #expect(Scmi.u32(a.payload, 8) == 1_800_000 && Scmi.u32(a.payload, 12) == 1_800_000 && Scmi.name(a.payload, 16) == "cpu")
        let levels = try f.ivi.command(.performance, 0x4, [0, 0])
        #expect(Scmi.u16(levels.payload, 0) == 3 && Scmi.u16(levels.payload, 2) == 0)
        #expect([0, 1, 2].map { Scmi.u32(levels.payload, 4 + 12 * $0) } == [600_000, 1_200_000, 1_800_000])
        #expect(try f.ivi.command(.performance, 0x4, [0, 3]).status == Scmi.outOfRange)
        #expect(try f.ivi.command(.performance, 0x7, [0, 600_000]).status == Scmi.success)
        #expect(Scmi.u32(try f.ivi.command(.performance, 0x8, [0]).payload, 0) == 600_000)
        #expect(try f.cluster.command(.performance, 0x7, [0, 1_200_000]).status == Scmi.success)
        #expect(Scmi.u32(try f.ivi.command(.performance, 0x8, [0]).payload, 0) == 1_200_000, "cluster's higher request wins")
        #expect(try f.ivi.command(.performance, 0x7, [0, 1_800_000]).status == Scmi.success)
        f.host.setLimit(domain: 0, 1_500_000)
        #expect(Scmi.u32(try f.cluster.command(.performance, 0x8, [0]).payload, 0) == 1_200_000, "capped and rounded down to a level")
        f.host.setLimit(domain: 0, nil)
        #expect(Scmi.u32(try f.cluster.command(.performance, 0x8, [0]).payload, 0) == 1_800_000)
        // A VM's own limits clamp its request.
        #expect(try f.ivi.command(.performance, 0x5, [0, 600_000, 600_000]).status == Scmi.success)
        let limits = try f.ivi.command(.performance, 0x6, [0])
        #expect(Scmi.u32(limits.payload, 0) == 600_000 && Scmi.u32(limits.payload, 4) == 600_000)
        #expect(Scmi.u32(try f.ivi.command(.performance, 0x8, [0]).payload, 0) == 1_200_000)
        #expect(try f.ivi.command(.performance, 0x5, [0, 600_000, 1_200_000]).status == Scmi.invalidParameters, "min above max")
        #expect(try f.ivi.command(.performance, 0x7, [0, 5]).status == Scmi.outOfRange)
        #expect(try f.ivi.command(.performance, 0x8, [1]).status == Scmi.notFound)
        #expect(try f.ivi.command(.performance, 0x9, [0, 1]).status == Scmi.notSupported, "no notifications")
    }

    @Test("power: a shared domain is on while any VM wants it; reset: counted")
    func powerAndReset() throws {
        let f = try ScmiFixture()
        let attributes = try f.ivi.command(.power, 0x3, [1])
        #expect(Scmi.name(attributes.payload, 4) == "audio")
        #expect(Scmi.u32(try f.ivi.command(.power, 0x5, [0]).payload, 0) == 0, "on at start")
        #expect(try f.ivi.command(.power, 0x4, [0, 0, 0x4000_0000]).status == Scmi.success)
        #expect(Scmi.u32(try f.ivi.command(.power, 0x5, [0]).payload, 0) == 0, "cluster has not let gpu go")
        #expect(try f.cluster.command(.power, 0x4, [0, 0, 0x4000_0000]).status == Scmi.success)
        #expect(Scmi.u32(try f.ivi.command(.power, 0x5, [0]).payload, 0) == 0x4000_0000)
        #expect(f.host.isPowered(domain: 0) == false)
        #expect(try f.cluster.command(.power, 0x4, [0, 0, 0]).status == Scmi.success)
        #expect(f.host.isPowered(domain: 0))
        #expect(try f.ivi.command(.power, 0x4, [0, 0, 7]).status == Scmi.invalidParameters)
        #expect(try f.ivi.command(.power, 0x4, [1, 0, 0]).status == Scmi.notSupported, "asynchronous")
        #expect(try f.cluster.command(.power, 0x5, [1]).status == Scmi.notFound, "audio is not cluster's")
        #expect(Scmi.name(try f.ivi.command(.reset, 0x3, [0]).payload, 8) == "modem")
        #expect(try f.ivi.command(.reset, 0x4, [0, 1, 0]).status == Scmi.success)
        #expect(try f.ivi.command(.reset, 0x4, [0, 2, 0]).status == Scmi.success)
        #expect(f.host.resetCount(domain: 0) == 2)
        #expect(try f.ivi.command(.reset, 0x4, [0, 4, 0]).status == Scmi.notSupported)
        #expect(try f.ivi.command(.reset, 0x4, [0, 1, 1]).status == Scmi.invalidParameters)
        #expect(try f.cluster.command(.reset, 0x1).status == Scmi.notSupported, "cluster has no reset domains")
    }

    @Test("hostile chains: no header, no room, notifications, unknown protocols and messages")
    func hostile() throws {
        let f = try ScmiFixture()
        #expect(try f.ivi.raw([1, 2], responseSize: 16).length == 0, "no header: nothing written")
        #expect(try f.ivi.raw([0, 0x40, 0, 0], responseSize: 7).length == 0, "no room for header and status")
        #expect(try f.ivi.raw([], responseSize: 16).length == 0)
        let notification = try f.ivi.raw([0, 0x43, 0, 0], responseSize: 16)
        #expect(notification.length == 8 && Scmi.u32(notification.bytes, 4) == UInt32(bitPattern: Scmi.protocolError))
        let long = try f.ivi.raw([0, 0x40, 0, 0] + [UInt8](repeating: 0, count: 200), responseSize: 16)
        #expect(Scmi.u32(long.bytes, 4) == UInt32(bitPattern: Scmi.protocolError))
        #expect(try f.ivi.command(.base, 0x42).status == Scmi.notSupported)
        let unknown = try f.ivi.raw([0, UInt8(0x99 << 2 & 0xFF), 0x2, 0], responseSize: 16)
        #expect(Scmi.u32(unknown.bytes, 4) == UInt32(bitPattern: Scmi.notSupported))
        #expect(try f.cluster.command(.reset, 0x0).status == Scmi.notSupported)
        // A response that does not fit: PROTOCOL_ERROR in the room there is.
        #expect(try f.ivi.command(.base, 0x3, responseSize: 12).status == Scmi.protocolError)
        // The device still works.
        #expect(try f.ivi.command(.base, 0x0).status == Scmi.success)
        #expect(f.devices[0].statistics.dropped == 3)
    }
}
