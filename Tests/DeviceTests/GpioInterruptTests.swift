import AVPTestSupport
import Devices
import Testing
import Virtio

/// The eventq of virtio-gpio (VIRTIO 1.2 §5.17.6.1, §5.17.7): interrupts enabled by
/// SET_IRQ_TYPE, unmasked by the driver's buffer, masked when the device returns it; edges
/// latch while masked, levels fire again on re-arm while active.
@Suite("GPIO interrupts (AVPS-v2.0-37)", .serialized)
struct GpioInterruptTests {
    let valid = GpioIRQStatus.valid.rawValue, invalid = GpioIRQStatus.invalid.rawValue

    @Test("edge rising: a host edge returns the line's buffer valid; a falling edge does not")
    func edgeRising() throws {
        let f = try GpioFixture()
        #expect(try f.ivi.setTrigger(2, .edgeRising) == 0)
        try f.ivi.unmask(2)
        #expect(try f.ivi.interrupts(waiting: 100).isEmpty)
        try f.block.setHostLevel(line: 2, true)
        let got = try f.ivi.interrupts()
        #expect(got.count == 1 && got.first?.line == 2 && got.first?.status == valid)
        try f.ivi.unmask(2)
        try f.block.setHostLevel(line: 2, false)
        #expect(try f.ivi.interrupts(waiting: 150).isEmpty)
        #expect(f.devices[0].statistics.interrupts == 1)
    }

    @Test("edge falling and both")
    func edgeFallingAndBoth() throws {
        let f = try GpioFixture()
        try f.block.setHostLevel(line: 2, true)
        #expect(try f.ivi.setTrigger(2, .edgeFalling) == 0)
        try f.ivi.unmask(2)
        try f.block.setHostLevel(line: 2, false)
        #expect(try f.ivi.interrupts().map(\.status) == [valid])
        #expect(try f.ivi.setTrigger(2, .none) == 0)
        #expect(try f.ivi.setTrigger(2, .edgeBoth) == 0)
        for level in [true, false] {
            try f.ivi.unmask(2)
            try f.block.setHostLevel(line: 2, level)
            #expect(try f.ivi.interrupts().map(\.status) == [valid])
        }
    }

    @Test("an edge while masked is latched and delivered at unmask; disabling discards it")
    func latching() throws {
        let f = try GpioFixture()
        #expect(try f.ivi.setTrigger(2, .edgeRising) == 0)
        try f.block.setHostLevel(line: 2, true)
        try f.block.setHostLevel(line: 2, false)
        try f.ivi.unmask(2)
        #expect(try f.ivi.interrupts().map(\.status) == [valid])
        try f.block.setHostLevel(line: 2, true)
        #expect(try f.ivi.setTrigger(2, .none) == 0)
        #expect(try f.ivi.setTrigger(2, .edgeRising) == 0)
        try f.ivi.unmask(2)
        #expect(try f.ivi.interrupts(waiting: 150).isEmpty, "the latched edge was discarded with the disable")
    }

    @Test("level high: fires at unmask while high and again after each re-arm; not while low")
    func levelHigh() throws {
        let f = try GpioFixture()
        #expect(try f.ivi.setTrigger(2, .levelHigh) == 0)
        try f.ivi.unmask(2)
        #expect(try f.ivi.interrupts(waiting: 100).isEmpty)
        try f.block.setHostLevel(line: 2, true)
        #expect(try f.ivi.interrupts().map(\.status) == [valid])
        try f.ivi.unmask(2)
        #expect(try f.ivi.interrupts().map(\.status) == [valid], "still high: re-triggers at re-arm")
        try f.block.setHostLevel(line: 2, false)
        try f.ivi.unmask(2)
        #expect(try f.ivi.interrupts(waiting: 100).isEmpty)
        try f.block.setHostLevel(line: 2, true)
        #expect(try f.ivi.interrupts().map(\.status) == [valid])
    }

    @Test("level low is not latched while masked")
    func levelLow() throws {
        let f = try GpioFixture()
        try f.block.setHostLevel(line: 2, true)
        #expect(try f.ivi.setTrigger(2, .levelLow) == 0)
        try f.block.setHostLevel(line: 2, false)
        try f.block.setHostLevel(line: 2, true)
        try f.ivi.unmask(2)
        #expect(try f.ivi.interrupts(waiting: 100).isEmpty, "the low pulse while masked is not latched")
        try f.block.setHostLevel(line: 2, false)
        #expect(try f.ivi.interrupts().map(\.status) == [valid])
    }

    @Test("disabling returns the held buffer invalid; unmasking a disabled line returns it invalid")
    func invalidReturns() throws {
        let f = try GpioFixture()
        try f.ivi.unmask(1)
        #expect(try f.ivi.interrupts().map(\.status) == [invalid])
        #expect(try f.ivi.setTrigger(1, .edgeBoth) == 0)
        try f.ivi.unmask(1)
        #expect(try f.ivi.interrupts(waiting: 100).isEmpty)
        #expect(try f.ivi.setTrigger(1, .none) == 0)
        #expect(try f.ivi.interrupts().map(\.status) == [invalid])
        #expect(try f.ivi.setTrigger(1, .levelHigh) == 0)
        try f.ivi.unmask(1)
        #expect(try f.ivi.setDirection(1, .none) == 0)
        #expect(try f.ivi.interrupts().map(\.status) == [invalid], "direction none discards the line's state")
    }

    @Test("a guest's output is an edge for the other VMs that see the line")
    func guestOutputReachesOtherVM() throws {
        let f = try GpioFixture()
        #expect(try f.cluster.setTrigger(2, .edgeRising) == 0)
        try f.cluster.unmask(2)
        #expect(try f.ivi.setValue(1, true) == 0)
        #expect(try f.ivi.setDirection(1, .output) == 0)
        let got = try f.cluster.interrupts()
        #expect(got.count == 1 && got.first?.line == 2 && got.first?.status == valid)
        #expect(try f.ivi.interrupts(waiting: 100).isEmpty, "ivi armed nothing")
    }

    @Test("hostile eventq buffers: unknown lines, wrong sizes, a second buffer for a line, no IRQ feature")
    func hostileEventq() throws {
        let f = try GpioFixture()
        #expect(try f.ivi.setTrigger(0, .edgeRising) == 0)
        try f.ivi.unmask(3)
        try f.ivi.unmask(0xFFFF)
        try f.ivi.unmask(0, requestBytes: [0, 0, 0])
        try f.ivi.unmask(0, requestBytes: [0])
        #expect(try f.ivi.interrupts(count: 4).map(\.status) == [invalid, invalid, invalid, invalid])
        try f.ivi.unmask(0)
        try f.ivi.unmask(0)
        #expect(try f.ivi.interrupts().map(\.status) == [invalid], "the second buffer for line 0 comes back")
        try f.block.setHostLevel(line: 0, true)
        #expect(try f.ivi.interrupts().map(\.status) == [valid], "the first one still works")
        let g = try GpioFixture(features: 1 << 32)
        try g.ivi.unmask(0)
        #expect(try g.ivi.interrupts().map(\.status) == [invalid])
    }

    @Test("hostile driver: random requests and buffers never stop the device")
    func randomRequests() throws {
        let f = try GpioFixture()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let size = Int.random(in: 1...12, using: &generator)
            var bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if size >= 2, Bool.random(using: &generator) { bytes[0] = UInt8.random(in: 0...7, using: &generator); bytes[1] = 0 }
            if size >= 4, Bool.random(using: &generator) { bytes[2] = UInt8.random(in: 0...4, using: &generator); bytes[3] = 0 }
            _ = try f.ivi.raw(bytes, responseSize: Int.random(in: 1...40, using: &generator))
        }
        for _ in 0..<8 { try f.ivi.unmask(UInt16.random(in: 0...5, using: &generator)) }
        _ = try f.ivi.interrupts(waiting: 100, count: 8)
        #expect(try f.ivi.getValue(0) != nil)
        #expect(f.block.status.allSatisfy { $0.drivenBy == nil || $0.drivenBy == "ivi" })
    }
}
