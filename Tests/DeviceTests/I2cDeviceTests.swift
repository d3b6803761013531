import AVPTestSupport
import Devices
import Foundation
import Logging
import SystemCalls
import Testing
import Virtio

/// The virtio-i2c device (VIRTIO 1.2 §5.16) with emulated targets, through a driver that sends
/// what Linux's i2c-virtio sends.
@Suite struct I2cDeviceTests {
    static let eeprom: UInt8 = 0x50, sensor: UInt8 = 0x48

    /// A bus with an in-memory 24C02 at 0x50 and a sensor at 0x48 reading 21.5 °C.
    static func fixture() throws -> (I2cFixture, Eeprom24C02, TemperatureSensor) {
        let eeprom = try Eeprom24C02(file: nil)
        let sensor = TemperatureSensor(celsius: 21.5)!
        let targets = EmulatedI2cTargets([I2cAddress(Self.eeprom)!: eeprom, I2cAddress(Self.sensor)!: sensor])
        let bus = I2cBus([I2cAddress(Self.eeprom)!: targets, I2cAddress(Self.sensor)!: targets])
        return (try I2cFixture(bus: bus), eeprom, sensor)
    }

    @Test("offers VIRTIO_I2C_F_ZERO_LENGTH_REQUEST, device ID 34, one queue (§5.16.1–3)")
    func identity() throws {
        let (f, _, _) = try Self.fixture()
        #expect(f.device.deviceFeatures.contains(I2cDevice.zeroLengthRequest))
        #expect(f.device.deviceType.rawValue == 34)
        #expect(f.device.queueCount == 1)
        #expect(f.driver.features & 1 != 0)
    }

    @Test("write then read (FAIL_NEXT group): an EEPROM byte written with one message reads back through a random read")
    func writeThenRead() throws {
        let (f, eeprom, _) = try Self.fixture()
        let w = try f.one(.write(Self.eeprom, [0x10, 0xAB, 0xCD]))
        #expect(w.isOK && w.used == 1)
        #expect(eeprom.contents[0x10...0x11] == [0xAB, 0xCD])
        let answers = try f.transfer([.write(Self.eeprom, [0x10], failNext: true), .read(Self.eeprom, 2)])
        #expect(answers.map(\.status) == [0, 0])
        #expect(answers[1].data == [0xAB, 0xCD])
        #expect(answers[1].used == 3)
    }

    @Test("zero-length requests (SMBus Quick, i2cdetect's probes) are acknowledged by a target, refused elsewhere")
    func zeroLength() throws {
        let (f, _, _) = try Self.fixture()
        #expect(try f.one(.write(Self.sensor, [])).isOK)
        #expect(try f.one(.read(Self.eeprom, 0)).isOK)
        #expect(try f.one(.write(0x51, [])).isError)
        #expect(try f.one(.read(0x51, 1)).isError)
    }

    @Test("the allow-list: every address without a target answers VIRTIO_I2C_MSG_ERR, as i2cdetect's scan sees it")
    func allowList() throws {
        let (f, _, _) = try Self.fixture()
        var present: [UInt8] = []
        for address in UInt8(0x08)...0x77 {
            // i2cdetect's default: a byte read at 0x30–0x37 and 0x50–0x5F, a quick write elsewhere.
            let probe: I2cFixture.Request = (0x30...0x37).contains(address) || (0x50...0x5F).contains(address)
                ? .read(address, 1) : .write(address, [])
            if try f.one(probe).isOK { present.append(address) }
        }
        #expect(present == [Self.sensor, Self.eeprom])
        #expect(f.device.statistics.refused == 0x70 - 2)
    }

    @Test("FAIL_NEXT: after a failed request, the rest of its group fails unrun; the next group runs")
    func failNext() throws {
        let (f, eeprom, _) = try Self.fixture()
        let answers = try f.transfer([
            .write(Self.eeprom, [0x00, 0x11], failNext: true),
            .write(0x51, [0x00], failNext: true),          // no target: fails
            .write(Self.eeprom, [0x08, 0x22], failNext: true),  // must not run
            .read(Self.eeprom, 1),                           // fails, ends the group
            .write(Self.eeprom, [0x09, 0x33]),               // a new group: runs
        ])
        #expect(answers.map(\.status) == [0, 1, 1, 1, 0])
        #expect(eeprom.contents[0] == 0x11)
        #expect(eeprom.contents[8] == 0xFF, "a request after a failed one with FAIL_NEXT never runs")
        #expect(eeprom.contents[9] == 0x33)
        // A target that does not acknowledge (the sensor's pointer 7) fails its group the same way.
        let nack = try f.transfer([.write(Self.sensor, [0x07], failNext: true), .read(Self.sensor, 2)])
        #expect(nack.map(\.status) == [1, 1])
    }

    @Test("a group the driver leaves open (the ring was full) still runs: nothing waits for a request that never comes")
    func openGroupRuns() throws {
        let (f, eeprom, _) = try Self.fixture()
        let answers = try f.transfer([.write(Self.eeprom, [0x20, 0x5A], failNext: true)])
        #expect(answers[0].isOK)
        #expect(eeprom.contents[0x20] == 0x5A)
        // The next transfer is its own group, not failed by the previous one.
        #expect(try f.one(.read(Self.eeprom, 1)).isOK)
    }

    @Test("oversized messages and transfers answer VIRTIO_I2C_MSG_ERR without allocating them")
    func oversized() throws {
        let (f, eeprom, _) = try Self.fixture()
        #expect(try f.one(.read(Self.eeprom, I2cRequest.maxLength + 1)).isError)
        #expect(try f.one(.write(Self.eeprom, [0x00] + [UInt8](repeating: 0x77, count: I2cRequest.maxLength))).isError)
        #expect(eeprom.contents[0] == 0xFF)
        #expect(try f.one(.read(Self.eeprom, I2cRequest.maxLength)).isOK)
        // 43 chained messages: more than one I2C_RDWR takes; all fail, none runs.
        let long = (0..<43).map { i in I2cFixture.Request.write(Self.eeprom, [UInt8(0x40 + i % 8), 0x01], failNext: i < 42) }
        let answers = try f.transfer(long)
        #expect(answers.allSatisfy { $0.isError })
        #expect(eeprom.contents[0x40..<0x48].allSatisfy { $0 == 0xFF })
    }

    @Test("malformed requests: short header, reserved flags, 10-bit address, buffers in the wrong direction, no status byte")
    func malformed() throws {
        let (f, _, _) = try Self.fixture()
        var short = I2cFixture.Request.write(Self.eeprom, [])
        short.header = [0xA0, 0, 0, 0]
        #expect(try f.one(short).isError)
        var reserved = I2cFixture.Request.write(Self.eeprom, [0x00])
        reserved.header = [0xA0, 0, 0, 0, 0x04, 0, 0, 0]
        #expect(try f.one(reserved).isError)
        var tenBit = I2cFixture.Request.write(Self.eeprom, [0x00])
        tenBit.header = [0xF0, 0x50, 0, 0, 0, 0, 0, 0]
        #expect(try f.one(tenBit).isError)
        var oddBit = I2cFixture.Request.write(Self.eeprom, [0x00])
        oddBit.header = [0xA1, 0, 0, 0, 0, 0, 0, 0]
        #expect(try f.one(oddBit).isError)
        // A read (M_RD) whose buffer the device is to read, a write with a device-writable buffer.
        var readWithPayload = I2cFixture.Request.write(Self.eeprom, [0x00])
        readWithPayload.header = [0xA0, 0, 0, 0, 0x02, 0, 0, 0]
        #expect(try f.one(readWithPayload).isError)
        var writeWithBuffer = I2cFixture.Request.read(Self.eeprom, 4)
        writeWithBuffer.header = [0xA0, 0, 0, 0, 0, 0, 0, 0]
        #expect(try f.one(writeWithBuffer).isError)
        var noStatus = I2cFixture.Request.write(Self.eeprom, [0x00, 0x12])
        noStatus.status = false
        let answer = try f.one(noStatus)
        #expect(answer.status == nil && answer.used == 0)
        // The device still serves well-formed requests.
        #expect(try f.one(.read(Self.sensor, 2)).data == [0x15, 0x80])
        #expect(f.device.statistics.refused == 7)
    }

    @Test("the sensor: temperature register MSB first; the host's new value is what the guest reads next")
    func sensorThroughDevice() throws {
        let (f, _, sensor) = try Self.fixture()
        let before = try f.transfer([.write(Self.sensor, [0x00], failNext: true), .read(Self.sensor, 2)])
        #expect(before[1].data == [0x15, 0x80])
        #expect(sensor.setCelsius(-10.5))
        #expect(try f.one(.read(Self.sensor, 2)).data == [0xF5, 0x80])
    }
}
