import AVPTestSupport
import Devices
import Testing
import Virtio

/// The requestq of virtio-gpio (VIRTIO 1.2 §5.17.6) for VMs sharing one block: each sees only
/// its lines, renumbered from 0 with their names; read-only lines are inputs.
@Suite("GPIO device requests (AVPS-v2.0-37)", .serialized)
struct GpioDeviceTests {
    @Test("configuration space: ngpio and gpio_names_size per VM")
    func configuration() throws {
        let f = try GpioFixture()
        let ivi = try f.ivi.driver.frontend.getConfig(offset: 0, size: 8)
        #expect(ivi == [3, 0, 0, 0, UInt8("door-open\0reverse-gear\0ignition\0".utf8.count), 0, 0, 0])
        let cluster = try f.cluster.driver.frontend.getConfig(offset: 0, size: 8)
        #expect(cluster[0] == 3)
        #expect(try f.ivi.driver.frontend.getFeatures() & 1 == 1, "VIRTIO_GPIO_F_IRQ offered")
    }

    @Test("GET_LINE_NAMES: each VM's names in its own numbering, nothing of other VMs'")
    func names() throws {
        let f = try GpioFixture()
        let iviNames = Array("door-open\0reverse-gear\0ignition\0".utf8)
        let r = try f.ivi.request(1, responseSize: 1 + iviNames.count)
        #expect(r.status == 0)
        #expect(r.value == iviNames)
        let clusterNames = Array("seat-heater\0ignition\0reverse-gear\0".utf8)
        let c = try f.cluster.request(1, responseSize: 1 + clusterNames.count)
        #expect(c.value == clusterNames)
        #expect(!String(decoding: c.value, as: UTF8.self).contains("door-open"))
    }

    @Test("directions: inputs at first, output after SET_DIRECTION, none releases")
    func directions() throws {
        let f = try GpioFixture()
        for line: UInt16 in 0..<3 { #expect(try f.ivi.request(2, line: line).value == [GpioDirection.input.rawValue]) }
        #expect(try f.ivi.setValue(0, true) == 0)
        #expect(try f.ivi.setDirection(0, .output) == 0)
        #expect(try f.ivi.request(2, line: 0).value == [GpioDirection.output.rawValue])
        #expect(try f.ivi.setDirection(0, .none) == 0)
        #expect(try f.ivi.request(2, line: 0).value == [GpioDirection.none.rawValue])
        #expect(try f.ivi.setDirection(0, .input) == 0)
        #expect(try f.ivi.request(2, line: 0).value == [GpioDirection.input.rawValue])
    }

    @Test("SET_VALUE before output is used when the line becomes an output; other VMs read it")
    func values() throws {
        let f = try GpioFixture()
        #expect(try f.ivi.getValue(1) == 0)
        #expect(try f.ivi.setValue(1, true) == 0)
        #expect(f.block.value(of: 1) == false, "an input is not driven by SET_VALUE")
        #expect(try f.ivi.setDirection(1, .output) == 0)
        #expect(f.block.value(of: 1) == true)
        #expect(try f.ivi.getValue(1) == 1)
        // reverse-gear is line 2 of the cluster, read-only.
        #expect(try f.cluster.getValue(2) == 1)
        #expect(try f.ivi.setValue(1, false) == 0)
        #expect(try f.cluster.getValue(2) == 0)
        #expect(f.block.status[1].drivenBy == "ivi")
    }

    @Test("host levels reach GET_VALUE of every VM that sees the line")
    func hostLevels() throws {
        let f = try GpioFixture()
        try f.block.setHostLevel(line: 2, true)
        #expect(try f.ivi.getValue(2) == 1)
        #expect(try f.cluster.getValue(1) == 1)
    }

    @Test("read-only lines: output and SET_VALUE refused, input and reads allowed")
    func readOnly() throws {
        let f = try GpioFixture()
        #expect(try f.ivi.setDirection(2, .output) == 1)
        #expect(try f.ivi.setValue(2, true) == 1)
        #expect(try f.ivi.setDirection(2, .input) == 0)
        #expect(try f.ivi.getValue(2) == 0)
        #expect(try f.cluster.setDirection(2, .output) == 1, "reverse-gear is the cluster's to read only")
        #expect(f.block.status[2].drivenBy == nil)
        #expect(f.devices[0].statistics.errors == 2)
    }

    @Test("unknown line numbers and message types get VIRTIO_GPIO_STATUS_ERR")
    func badLines() throws {
        let f = try GpioFixture()
        for type: UInt16 in 2...6 {
            #expect(try f.ivi.request(type, line: 3).status == 1)
            #expect(try f.ivi.request(type, line: 0xFFFF).status == 1)
        }
        #expect(try f.ivi.request(0).status == 1)
        #expect(try f.ivi.request(7).status == 1)
        #expect(try f.ivi.request(0xFFFF).status == 1)
        #expect(try f.ivi.request(3, line: 0, value: 3).status == 1, "direction 3")
        #expect(try f.ivi.request(5, line: 0, value: 2).status == 1, "value 2")
        for bad: UInt32 in [5, 6, 7, 9, 16, 0xFFFF_FFFF] { #expect(try f.ivi.request(6, line: 0, value: bad).status == 1) }
        #expect(try f.ivi.getValue(0) == 0, "the device still answers")
    }

    @Test("bad request sizes: ERR in what fits, never a trap")
    func badSizes() throws {
        let f = try GpioFixture()
        let short = try f.ivi.raw([4, 0, 0, 0], responseSize: 2)
        #expect(short.length == 2 && short.bytes[0] == 1)
        let long = try f.ivi.raw([4, 0, 0, 0, 0, 0, 0, 0, 0], responseSize: 2)
        #expect(long.bytes[0] == 1)
        let tinyResponse = try f.ivi.raw([4, 0, 0, 0, 0, 0, 0, 0], responseSize: 1)
        #expect(tinyResponse.length == 1 && tinyResponse.bytes[0] == 1)
        let names = try f.ivi.raw([1, 0, 0, 0, 0, 0, 0, 0], responseSize: 4)
        #expect(names.bytes[0] == 1, "GET_LINE_NAMES needs 1 + gpio_names_size bytes")
        let noResponse = try f.ivi.raw([4, 0, 0, 0, 0, 0, 0, 0], responseSize: 0)
        #expect(noResponse.length == 0)
        #expect(try f.ivi.getValue(0) == 0)
    }

    @Test("SET_IRQ_TYPE needs VIRTIO_GPIO_F_IRQ and an input line")
    func irqRules() throws {
        let f = try GpioFixture(features: 1 << 32)
        #expect(try f.ivi.setTrigger(0, .edgeRising) == 1)
        let g = try GpioFixture()
        #expect(try g.ivi.setDirection(0, .output) == 0)
        #expect(try g.ivi.setTrigger(0, .edgeRising) == 1)
        #expect(try g.ivi.setTrigger(1, .edgeRising) == 0)
    }

    @Test("a reset releases the lines the VM drove")
    func resetReleases() throws {
        let f = try GpioFixture()
        #expect(try f.ivi.setValue(0, true) == 0)
        #expect(try f.ivi.setDirection(0, .output) == 0)
        #expect(f.block.value(of: 0))
        f.devices[0].reset()
        #expect(!f.block.value(of: 0))
        #expect(f.block.status[0].drivenBy == nil)
    }
}
