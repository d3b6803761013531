import Devices
import Foundation
import Logging
import SystemCalls
import Testing

/// The host's side of the GPIO server: the request parser alone, the chip layout and edge
/// events of the GPIO v2 uAPI (no chip on this host: the ioctls themselves are untested here),
/// and the control socket's requests.
@Suite("GPIO host side (AVPS-v2.0-37/38)")
struct GpioHostSideTests {
    @Test("GpioRequest.parse: every message type, and each refusal")
    func parser() throws {
        func bytes(_ type: UInt16, _ line: UInt16, _ value: UInt32) -> [UInt8] {
            [UInt8(type & 0xFF), UInt8(type >> 8), UInt8(line & 0xFF), UInt8(line >> 8)] + (0..<4).map { UInt8((value >> (8 * UInt32($0))) & 0xFF) }
        }
        #expect(try GpioRequest.parse(bytes(1, 9, 9), lineCount: 2, irq: false) == .getLineNames)
        #expect(try GpioRequest.parse(bytes(2, 1, 0), lineCount: 2, irq: false) == .getDirection(line: 1))
        #expect(try GpioRequest.parse(bytes(3, 1, 1), lineCount: 2, irq: false) == .setDirection(line: 1, .output))
        #expect(try GpioRequest.parse(bytes(4, 0, 0), lineCount: 2, irq: false) == .getValue(line: 0))
        #expect(try GpioRequest.parse(bytes(5, 0, 1), lineCount: 2, irq: false) == .setValue(line: 0, true))
        #expect(try GpioRequest.parse(bytes(6, 0, 8), lineCount: 2, irq: true) == .setIRQType(line: 0, .levelLow))
        #expect(throws: GpioRequestError.wrongSize(7)) { try GpioRequest.parse(Array(bytes(4, 0, 0).prefix(7)), lineCount: 2, irq: true) }
        #expect(throws: GpioRequestError.unknownType(9)) { try GpioRequest.parse(bytes(9, 0, 0), lineCount: 2, irq: true) }
        #expect(throws: GpioRequestError.noSuchLine(2, lineCount: 2)) { try GpioRequest.parse(bytes(4, 2, 0), lineCount: 2, irq: true) }
        #expect(throws: GpioRequestError.badDirection(256)) { try GpioRequest.parse(bytes(3, 0, 256), lineCount: 2, irq: true) }
        #expect(throws: GpioRequestError.badValue(2)) { try GpioRequest.parse(bytes(5, 0, 2), lineCount: 2, irq: true) }
        #expect(throws: GpioRequestError.badTrigger(5)) { try GpioRequest.parse(bytes(6, 0, 5), lineCount: 2, irq: true) }
        #expect(throws: GpioRequestError.irqNotNegotiated) { try GpioRequest.parse(bytes(6, 0, 1), lineCount: 2, irq: false) }
        #expect(throws: GpioRequestError.responseTooSmall(0, needed: 1)) { try GpioIRQRequest.parse([0, 0], writable: 0, lineCount: 1) }
        #expect(throws: GpioRequestError.noSuchLine(1, lineCount: 1)) { try GpioIRQRequest.parse([1, 0], writable: 1, lineCount: 1) }
    }

    @Test("chip layout: offsets given or found by name; unknown names, bad and repeated offsets refused")
    func chipLayout() throws {
        let chip = ["", "door", "lamp", ""]
        #expect(try GpioChipLayout.resolve([.init(name: "door", offset: nil), .init(name: "x", offset: 3)], chipNames: chip, chip: "c") == [1, 3])
        #expect(throws: GpioProviderError.lineNotFound(name: "y", chip: "c")) {
            try GpioChipLayout.resolve([.init(name: "y", offset: nil)], chipNames: chip, chip: "c")
        }
        #expect(throws: GpioProviderError.badOffset(name: "x", offset: 4, chipLines: 4)) {
            try GpioChipLayout.resolve([.init(name: "x", offset: 4)], chipNames: chip, chip: "c")
        }
        #expect(throws: GpioProviderError.duplicateOffset(2)) {
            try GpioChipLayout.resolve([.init(name: "lamp", offset: nil), .init(name: "x", offset: 2)], chipNames: chip, chip: "c")
        }
    }

    @Test("gpio_v2_line_event decoding: whole events only, unknown ids skipped")
    func lineEvents() {
        func event(_ ns: UInt64, _ id: UInt32, _ offset: UInt32, _ seq: UInt32) -> [UInt8] {
            var b = (0..<8).map { UInt8((ns >> (8 * UInt64($0))) & 0xFF) }
            for v in [id, offset, 1, seq] { b += (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
            return b + [UInt8](repeating: 0, count: 24)
        }
        let bytes = event(5_000_000_001, 1, 7, 1) + event(6, 2, 7, 2) + event(7, 9, 7, 3) + Array(event(8, 1, 7, 4).prefix(47))
        #expect(GpioLineEvent.parse(bytes) == [GpioLineEvent(nanoseconds: 5_000_000_001, rising: true, offset: 7, lineSequence: 1),
                                               GpioLineEvent(nanoseconds: 6, rising: false, offset: 7, lineSequence: 2)])
        #expect(GpioCharacterDevice.eventSize == GpioLineEvent.size, "the uAPI's struct is 48 bytes")
    }

    @Test("control socket: list, get, set and changes; unknown lines and nonsense refused")
    func control() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-gpio-control-\(try SystemRandom.uint64()).sock").path
        let block = try GpioBlock(provider: SimulatedGpioLines(names: ["a", "b"]), logger: Logger(label: "test.gpio"))
        let server = try GpioControlServer(path: path, block: block, logger: Logger(label: "test.gpio"))
        defer { server.stop() }
        #expect(server.answer(GpioControlRequest.list.line) == .lines([GpioLineStatus(name: "a", value: false), GpioLineStatus(name: "b", value: false)]))
        #expect(server.answer(GpioControlRequest.set(line: "b", value: true).line) == .lines([GpioLineStatus(name: "b", value: true)]))
        #expect(server.answer(GpioControlRequest.get(line: "b").line) == .lines([GpioLineStatus(name: "b", value: true)]))
        guard case let .changes(c) = server.answer(GpioControlRequest.changes(after: 0).line) else { Issue.record("no changes"); return }
        #expect(c.changes.map(\.line) == ["b"] && c.changes.first?.origin == "host" && c.next == 1 && c.lost == 0)
        guard case let .refused(reason) = server.answer(GpioControlRequest.get(line: "zz").line) else { Issue.record("accepted"); return }
        #expect(reason.contains("no line 'zz'"))
        #expect(server.answer(Array("nonsense".utf8)) == .refused(reason: GpioControlError.malformedRequest.description))
        // Through the socket, as avp gpio does.
        let socket = try UnixSocket.connect(to: path)
        try socket.send(GpioControlRequest.set(line: "a", value: true).line + [0x0A])
        let answer = try socket.receive(upTo: 4096).bytes
        #expect(try GpioControlResponse(line: Array(answer.dropLast())) == .lines([GpioLineStatus(name: "a", value: true)]))
    }

    @Test("history: changes after a sequence, and how many the history lost")
    func history() throws {
        let block = try GpioBlock(provider: SimulatedGpioLines(names: ["a"]), logger: Logger(label: "test.gpio"))
        for i in 0..<(GpioBlock.historyLimit + 10) { try block.setHostLevel(line: 0, i % 2 == 0) }
        let c = block.changes(after: 0)
        #expect(c.changes.count == GpioBlock.historyLimit && c.lost == 10 && c.next == UInt64(GpioBlock.historyLimit + 10))
        #expect(block.changes(after: c.next).changes.isEmpty)
    }
}
