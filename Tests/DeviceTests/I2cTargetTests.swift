import AVPTestSupport
import Devices
import Foundation
import Logging
import SystemCalls
import Testing

/// The emulated targets (24C02 EEPROM, LM75-style sensor), the request parser, the target
/// syntax and the host pass-through (against AVPTestSupport's `FakeI2cAdapter`).
@Suite struct I2cTargetTests {
    func temporaryPath(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-i2c-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    @Test("24C02: page writes wrap within their 8-byte page; reads are sequential and wrap at 0xFF")
    func eepromPages() throws {
        let e = try Eeprom24C02(file: nil)
        #expect(e.contents == [UInt8](repeating: 0xFF, count: 256))
        // 10 bytes from 0x06: 0x06, 0x07, then 0x00…0x05 of the same page, then 0x06, 0x07 again.
        #expect(e.write([0x06] + Array(1...10)))
        #expect(Array(e.contents[0..<8]) == [3, 4, 5, 6, 7, 8, 9, 10])
        #expect(e.contents[8] == 0xFF, "never past the page")
        // The pointer is after the last byte written (0x08 wraps to 0x00 within the page).
        #expect(e.read(count: 1) == [3])
        #expect(e.write([0xFE]))
        #expect(e.read(count: 4) == [0xFF, 0xFF, 3, 4])
        // Pointer-only write then read: random read; zero-length write: acknowledged, no change.
        #expect(e.write([0x02]))
        #expect(e.write([]))
        #expect(e.read(count: 2) == [5, 6])
        #expect(e.read(count: 0) == [])
    }

    @Test("24C02 persistence: written durably, reloaded by a new EEPROM (a server restart); wrong sizes refused")
    func eepromPersistence() throws {
        let path = try temporaryPath("board.eeprom")
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let first = try Eeprom24C02(file: EepromFile(path: path))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 0xFF, count: 256), "created erased")
        #expect(first.write([0x10, 0xAB, 0xCD]))
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        let second = try Eeprom24C02(file: EepromFile(path: path))
        #expect(second.contents[0x10...0x11] == [0xAB, 0xCD])
        try Data(count: 100).write(to: URL(fileURLWithPath: path))
        #expect(throws: EepromFileError.wrongSize(path, 100)) { try Eeprom24C02(file: EepromFile(path: path)) }
        // A file it cannot create: refused at start, not at the guest's first write.
        #expect(throws: EepromFileError.self) { try Eeprom24C02(file: EepromFile(path: "/nonexistent-avp-dir/x.eeprom")) }
    }

    @Test("LM75 encoding: 9-bit two's complement in bits 15–7, 0.5 °C steps, -55 to 125 °C")
    func sensorEncoding() throws {
        #expect(TemperatureSensor.register(halfDegrees: TemperatureSensor.halfDegrees(21.5)!) == 0x1580)
        #expect(TemperatureSensor.register(halfDegrees: TemperatureSensor.halfDegrees(25)!) == 0x1900)
        #expect(TemperatureSensor.register(halfDegrees: TemperatureSensor.halfDegrees(-0.5)!) == 0xFF80)
        #expect(TemperatureSensor.register(halfDegrees: TemperatureSensor.halfDegrees(-55)!) == 0xC900)
        #expect(TemperatureSensor.register(halfDegrees: TemperatureSensor.halfDegrees(125)!) == 0x7D00)
        #expect(TemperatureSensor.halfDegrees(21.3) == 43)
        #expect(TemperatureSensor.halfDegrees(125.5) == nil)
        #expect(TemperatureSensor.halfDegrees(.nan) == nil)
        #expect(TemperatureSensor.celsius(register: 0xE700) == -25)
        let s = try #require(TemperatureSensor(celsius: 21.5))
        #expect(s.read(count: 4) == [0x15, 0x80, 0x15, 0x80])
        #expect(s.write([0x03]))
        #expect(s.read(count: 2) == [0x50, 0x00])
        #expect(s.write([0x02, 0x20, 0xFF]))
        #expect(s.read(count: 2) == [0x20, 0x80], "T_HYST keeps 9 bits")
        #expect(s.write([0x01, 0x06]))
        #expect(s.read(count: 1) == [0x06])
        #expect(!s.write([0x00, 0x12, 0x34]), "the temperature register is read-only")
        #expect(!s.write([0x04]), "pointer 4 does not exist")
        #expect(!s.setCelsius(200))
        #expect(s.celsius == 21.5)
    }

    @Test("request parsing: the header, direction and bounds of VIRTIO 1.2 §5.16.6.1")
    func parsing() throws {
        let header: (UInt16, UInt32) -> [UInt8] = { a, f in [UInt8(a & 0xFF), UInt8(a >> 8), 0, 0, UInt8(f & 0xFF), UInt8(f >> 8 & 0xFF), 0, 0] }
        #expect(try I2cRequest(header: header(0xA0, 3), readableLength: 8, writableLength: 3)
                == I2cRequest(address: I2cAddress(0x50)!, direction: .read(count: 2), failNext: true))
        #expect(try I2cRequest(header: header(0x90, 0), readableLength: 10, writableLength: 1)
                == I2cRequest(address: I2cAddress(0x48)!, direction: .write(count: 2), failNext: false))
        #expect(throws: I2cRequestError.headerTooShort(readable: 7)) { try I2cRequest(header: [0, 0, 0, 0, 0, 0, 0], readableLength: 7, writableLength: 1) }
        #expect(throws: I2cRequestError.noStatusByte) { try I2cRequest(header: header(0xA0, 0), readableLength: 8, writableLength: 0) }
        #expect(throws: I2cRequestError.reservedFlags(0x100)) { try I2cRequest(header: header(0xA0, 0x100), readableLength: 8, writableLength: 1) }
        #expect(throws: I2cRequestError.unsupportedAddress(0x50F0)) { try I2cRequest(header: header(0x50F0, 0), readableLength: 8, writableLength: 1) }
        #expect(throws: I2cRequestError.tooLong(4097)) { try I2cRequest(header: header(0xA0, 2), readableLength: 8, writableLength: 4098) }
        #expect(I2cRequest.failNext(header: [1, 2]), "unknown: the safe side")
        #expect(!I2cRequest.failNext(header: header(0xA0, 2)))
    }

    @Test("target syntax: eeprom@, temperature@, host@ with checked addresses, round trip")
    func targetSyntax() throws {
        for text in ["eeprom@0x50", "eeprom@0x50:/var/lib/a.eeprom", "temperature@0x48:21.5", "temperature@0x49:-10", "host@0x1d:/dev/i2c-1"] {
            #expect(try I2cTargetSpec(parsing: text).description == text)
        }
        #expect(try I2cTargetSpec(parsing: "temperature@72") == .temperature(I2cAddress(0x48)!, celsius: 25))
        #expect(throws: I2cTargetSpecError.reservedAddress(I2cAddress(0x78)!)) { try I2cTargetSpec(parsing: "eeprom@0x78") }
        #expect(throws: I2cTargetSpecError.reservedAddress(I2cAddress(0x03)!)) { try I2cTargetSpec(parsing: "eeprom@0x03") }
        #expect(throws: I2cTargetSpecError.badAddress("0x80")) { try I2cTargetSpec(parsing: "eeprom@0x80") }
        #expect(throws: I2cTargetSpecError.unknownKind("rom")) { try I2cTargetSpec(parsing: "rom@0x50") }
        #expect(throws: I2cTargetSpecError.badTemperature("300")) { try I2cTargetSpec(parsing: "temperature@0x48:300") }
        #expect(throws: I2cTargetSpecError.hostBusPath("i2c-1")) { try I2cTargetSpec(parsing: "host@0x48:i2c-1") }
        #expect(throws: I2cTargetSpecError.syntax("eeprom")) { try I2cTargetSpec(parsing: "eeprom") }
    }

    @Test("host pass-through: a transaction is one I2C_RDWR (repeated START kept); other addresses never reach the host bus")
    func hostPassThrough() throws {
        let adapter = FakeI2cAdapter(targets: [0x1d: [UInt8](0..<16)])
        let host = HostI2cBus(path: "/dev/i2c-fake", adapter: adapter, allowed: [I2cAddress(0x1d)!], logger: Logger(label: "test"))
        let bus = I2cBus([I2cAddress(0x1d)!: host])
        let f = try I2cFixture(bus: bus)
        let answers = try f.transfer([.write(0x1d, [0x04], failNext: true), .read(0x1d, 3)])
        #expect(answers.map(\.status) == [0, 0])
        #expect(answers[1].data == [4, 5, 6])
        #expect(adapter.transactions.count == 1 && adapter.transactions[0].count == 2, "one ioctl for the write-then-read")
        #expect(try f.one(.write(0x1d, [0x00, 0x99])).isOK)
        #expect(adapter.registers(of: 0x1d)?[0] == 0x99)
        // An address the VM was not given, even one the host bus has, never reaches it.
        #expect(try f.one(.read(0x1e, 1)).isError)
        #expect(host.transfer([.read(I2cAddress(0x1e)!, 1)]).isEmpty)
        #expect(adapter.transactions.count == 2)
        // A failed ioctl fails the whole transaction.
        let missing = HostI2cBus(path: "/dev/i2c-fake", adapter: FakeI2cAdapter(targets: [:]), allowed: [I2cAddress(0x1d)!], logger: Logger(label: "test"))
        #expect(missing.transfer([.write(I2cAddress(0x1d)!, [0]), .read(I2cAddress(0x1d)!, 1)]).isEmpty)
    }

    @Test("I2cDevFile: a file that is not an I2C adapter is refused at open (I2C_FUNCS), not at the first transfer")
    func devFileRefusesNonAdapter() throws {
        #expect(throws: Errno.self) { try I2cDevFile(path: "/dev/null") }
        #expect(throws: Errno.self) { try I2cDevFile(path: "/nonexistent/i2c-9") }
    }

    @Test("one VM's targets: distinct addresses, the allow-list they make, control socket requests")
    func vmAndControl() throws {
        let path = try temporaryPath("vm.eeprom")
        let targets: [I2cTargetSpec] = [.eeprom(I2cAddress(0x50)!, file: path), .temperature(I2cAddress(0x48)!, celsius: 21.5)]
        let vm = try I2cVM(name: "ivi", targets: targets, logger: Logger(label: "test"))
        #expect(vm.bus.addresses == [I2cAddress(0x48)!, I2cAddress(0x50)!])
        #expect(throws: I2cVMError.self) {
            try I2cVM(name: "ivi", targets: [.temperature(I2cAddress(0x48)!, celsius: 1), .eeprom(I2cAddress(0x48)!, file: nil)], logger: Logger(label: "t"))
        }
        let device = I2cDevice(bus: vm.bus, logger: Logger(label: "test"))
        let control = try I2cControlServer(path: try temporaryPath("control.sock"), served: [.init(vm: vm, targets: targets, device: device)],
                                           logger: Logger(label: "test"))
        defer { control.stop() }
        let set = control.answer(I2cControlRequest.setTemperature(vm: "ivi", address: 0x48, celsius: 30.5).line)
        guard case let .status(vms) = set else { Issue.record("refused: \(set)"); return }
        #expect(vms[0].targets.map(\.target) == ["temperature@0x48:30.5", "eeprom@0x50:\(path)"])
        #expect(vm.sensors[I2cAddress(0x48)!]?.celsius == 30.5)
        #expect(control.answer(I2cControlRequest.setTemperature(vm: "x", address: 0x48, celsius: 1).line)
                == .refused(reason: I2cControlError.unknownVM("x", known: ["ivi"]).description))
        #expect(control.answer(I2cControlRequest.setTemperature(vm: "ivi", address: 0x50, celsius: 1).line)
                == .refused(reason: I2cControlError.noSensor(vm: "ivi", address: 0x50, sensors: ["0x48"]).description))
        #expect(control.answer(I2cControlRequest.setTemperature(vm: "ivi", address: 0x48, celsius: 126).line)
                == .refused(reason: I2cControlError.temperatureOutOfRange(126).description))
        #expect(control.answer(Array("{\"bogus\":{}}".utf8)) == .refused(reason: I2cControlError.malformedRequest.description))
    }
}
