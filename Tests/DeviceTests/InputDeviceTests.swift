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

/// The touchscreen's device on a vhost-user server, driven by the Swift front end the way
/// Linux's virtio_input does: configuration queries through select/subsel, one 8-byte buffer
/// per event on the eventq (VIRTIO 1.2 §5.8).
final class InputFixture {
    let directory: String
    let device: InputDevice
    let screen: Touchscreen?
    let server: VhostUserServer
    let driver: GuestDriver
    /// Buffers the driver has posted on the eventq, by head.
    private var posted: [UInt16: GuestSlice] = [:]

    init(width: Int = 640, height: Int = 480, rawDevice: Bool = false, eventQueueSize: UInt16 = 8) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-input-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let logger = Logger(label: "test.input")
        if rawDevice {
            screen = nil
            device = try InputDevice(description: .touchscreen(width: width, height: height), logger: logger)
        } else {
            let screen = try Touchscreen(width: width, height: height, logger: logger)
            self.screen = screen
            device = screen.device
        }
        server = try VhostUserServer(socketPath: directory + "/input.sock", device: device, logger: logger)
        try server.start()
        driver = try GuestDriver.start(socketPath: directory + "/input.sock", queueSizes: [eventQueueSize, 8])
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var eventq: DriverQueue { driver.queues[0] }
    var statusq: DriverQueue { driver.queues[1] }

    /// What the driver reads after selecting `select`/`subsel`: the union's first `size` bytes.
    func query(_ select: InputConfigSelect, _ subsel: UInt8 = 0) throws -> [UInt8] {
        try driver.frontend.sendAcked(.setConfig(offset: 0, flags: 0, bytes: [select.rawValue, subsel]))
        let config = try driver.frontend.getConfig(offset: 0, size: 136)
        #expect(config.count == 136 && config[0] == select.rawValue && config[1] == subsel)
        return Array(config[8..<8 + Int(config[2])])
    }

    /// Posts `count` empty 8-byte event buffers, as Linux's virtinput_fill_evt does.
    func post(_ count: Int) throws {
        for _ in 0..<count {
            let buffer = try driver.allocate(InputEvent.size)
            posted[try eventq.ring.add(writable: [buffer])] = buffer
        }
        eventq.kick()
    }

    /// The events in used buffers, in the order the device returned them.
    private func decode(_ used: [DriverRing.UsedElement]) throws -> [InputEvent] {
        try used.map { u in
            let taken = posted.removeValue(forKey: u.head)
            let buffer = try #require(taken)
            #expect(u.length == 8)
            return try #require(InputEvent(bytes: try buffer.bytes(count: 8)))
        }
    }

    /// Keeps `window` buffers posted until the device has nothing more to put in them.
    func drain(window: Int = 256) throws -> [InputEvent] {
        var events: [InputEvent] = []
        while true {
            try post(window - posted.count)
            let used = try eventq.waitForUsed(count: window, timeoutMilliseconds: 300)
            events += try decode(used)
            if used.count < window { return events }
        }
    }

    /// Posts up to `window` buffers at a time until `count` events came back (or none come).
    func receiveAll(_ count: Int, window: Int = 8) throws -> [InputEvent] {
        var events: [InputEvent] = []
        while events.count < count {
            try post(min(window, count - events.count))
            let got = try decode(try eventq.waitForUsed(count: min(window, count - events.count)))
            if got.isEmpty { break }
            events += got
        }
        return events
    }
}

/// A guest's view of the device as Linux's input core keeps it: the current slot, each slot's
/// tracking ID and the touch button, after applying the events it was sent.
struct GuestTouchState {
    var slot = 0
    var trackingIDs = [Int32](repeating: -1, count: 10)
    var touching = false

    mutating func apply(_ events: [InputEvent]) {
        for e in events {
            switch (e.type, e.code) {
            case (InputCode.EventType.absolute, InputCode.Axis.multiTouchSlot): slot = Int(e.value)
            case (InputCode.EventType.absolute, InputCode.Axis.multiTouchTrackingID): trackingIDs[slot] = e.value
            case (InputCode.EventType.key, InputCode.Key.touch): touching = e.value != 0
            default: break
            }
        }
    }
}

private func abs(_ axis: UInt16, _ value: Int32) -> InputEvent { .absolute(axis, value) }
private func key(_ code: UInt16, pressed: Bool) -> InputEvent { .key(code, pressed: pressed) }

@Suite(.serialized) struct InputDeviceConfiguration {
    @Test("VIRTIO 1.2 §5.8.4: name, serial, IDs, properties, event bits and axis ranges through select/subsel")
    func configurationQueries() throws {
        let f = try InputFixture(width: 800, height: 480)
        #expect(VirtioFeatures(rawValue: f.driver.features).contains(.version1))
        #expect(try f.driver.frontend.getProtocolFeatures().contains(.config))
        #expect(try f.query(.name) == Array("AVP touch".utf8))
        #expect(try f.query(.serial) == Array("avp-touch-800x480".utf8))
        // struct virtio_input_devids: BUS_VIRTUAL, vendor, product, version.
        #expect(try f.query(.deviceIDs) == [0x06, 0, 0x56, 0x41, 0x01, 0, 0x01, 0])
        #expect(try f.query(.propertyBits) == [0x02], "INPUT_PROP_DIRECT is bit 1")
        // EV_KEY: BTN_LEFT (0x110) and BTN_TOUCH (0x14a): bytes 34 (bit 0) and 41 (bit 2).
        let keys = try f.query(.eventBits, UInt8(InputCode.EventType.key))
        #expect(keys.count == 42 && keys[34] == 0x01 && keys[41] == 0x04 && keys.enumerated().allSatisfy { [34, 41].contains($0.offset) || $0.element == 0 })
        // EV_ABS: X, Y, MT_SLOT (0x2f), MT_POSITION_X/Y (0x35, 0x36), MT_TRACKING_ID (0x39).
        #expect(try f.query(.eventBits, UInt8(InputCode.EventType.absolute)) == [0x03, 0, 0, 0, 0, 0x80, 0x60, 0x02])
        #expect(try f.query(.eventBits, UInt8(InputCode.EventType.led)).isEmpty)
        #expect(try f.query(.eventBits, 0).isEmpty)
        func absinfo(_ axis: UInt16) throws -> [Int32] {
            let b = try f.query(.axisInfo, UInt8(axis))
            #expect(b.count == 20)
            return stride(from: 0, to: b.count, by: 4).map { Int32(bitPattern: UInt32(b[$0]) | UInt32(b[$0 + 1]) << 8 | UInt32(b[$0 + 2]) << 16 | UInt32(b[$0 + 3]) << 24) }
        }
        #expect(try absinfo(InputCode.Axis.x) == [0, 799, 0, 0, 0])
        #expect(try absinfo(InputCode.Axis.y) == [0, 479, 0, 0, 0])
        #expect(try absinfo(InputCode.Axis.multiTouchPositionY) == [0, 479, 0, 0, 0])
        #expect(try absinfo(InputCode.Axis.multiTouchSlot) == [0, 9, 0, 0, 0])
        #expect(try f.query(.axisInfo, 0x10).isEmpty, "ABS_HAT0X is not an axis of the device")
        // §5.8.5.1: nothing for an unknown select, or a subsel where the select takes none.
        #expect(try f.query(.unset).isEmpty && f.query(.name, 1).isEmpty && f.query(.deviceIDs, 3).isEmpty)
        try f.driver.frontend.sendAcked(.setConfig(offset: 0, flags: 0, bytes: [0x7f, 0]))
        #expect(try f.driver.frontend.getConfig(offset: 0, size: 136)[2] == 0)
    }

    @Test("QEMU writes the whole space back on every driver write: only select and subsel count")
    func wholeSpaceWrites() throws {
        let f = try InputFixture()
        var space = [UInt8](repeating: 0xee, count: 136)
        space[0] = InputConfigSelect.name.rawValue
        space[1] = 0
        try f.driver.frontend.sendAcked(.setConfig(offset: 0, flags: 0, bytes: space))
        let config = try f.driver.frontend.getConfig(offset: 0, size: 136)
        #expect(config[2] == 9 && Array(config[8..<17]) == Array("AVP touch".utf8) && config[17...].allSatisfy { $0 == 0 })
        // One byte at a time, as Linux's virtio_cwrite8 through a front end that forwards it.
        try f.driver.frontend.sendAcked(.setConfig(offset: 0, flags: 0, bytes: [InputConfigSelect.axisInfo.rawValue]))
        try f.driver.frontend.sendAcked(.setConfig(offset: 1, flags: 0, bytes: [UInt8(InputCode.Axis.x)]))
        #expect(try f.driver.frontend.getConfig(offset: 2, size: 1) == [20])
        #expect(try f.driver.frontend.getConfig(offset: 12, size: 4) == [0x7f, 0x02, 0, 0], "max 639")
        // Writes to size, reserved or the union change nothing.
        try f.driver.frontend.sendAcked(.setConfig(offset: 2, flags: 0, bytes: [0, 1, 2, 3, 4, 5, 6, 7]))
        #expect(try f.driver.frontend.getConfig(offset: 0, size: 3) == [InputConfigSelect.axisInfo.rawValue, 0, 20])
    }

    @Test("configuration reads and writes outside the 136 bytes are refused, and the server goes on")
    func outOfRange() throws {
        let f = try InputFixture()
        #expect(try f.driver.frontend.getConfig(offset: 130, size: 7).isEmpty)
        #expect(try f.driver.frontend.getConfig(offset: 136, size: 1).isEmpty)
        #expect(try f.driver.frontend.getConfig(offset: UInt32.max, size: 4).isEmpty)
        #expect(throws: VhostUserError.self) { try f.driver.frontend.sendAcked(.setConfig(offset: 135, flags: 0, bytes: [1, 2])) }
        #expect(throws: VhostUserError.self) { try f.driver.frontend.sendAcked(.setConfig(offset: 0xffff_fff0, flags: 0, bytes: [1])) }
        #expect(try f.driver.frontend.getConfig(offset: 136, size: 0) == [])
        #expect(try f.query(.name) == Array("AVP touch".utf8))
    }
}

@Suite(.serialized) struct InputDeviceEvents {
    @Test("a touch, a move and a release reach the guest in order, each frame ended by SYN_REPORT")
    func touchMoveRelease() throws {
        let f = try InputFixture()
        let screen = try #require(f.screen)
        screen.apply(.touch(contact: 0, x: 100, y: 50))
        screen.apply(.move(contact: 0, x: 120, y: 60))
        screen.apply(.release(contact: 0))
        let events = try f.receiveAll(20)
        let slot0 = abs(InputCode.Axis.multiTouchSlot, 0)
        #expect(events == [
            slot0, abs(InputCode.Axis.multiTouchTrackingID, 0), abs(InputCode.Axis.multiTouchPositionX, 100),
            abs(InputCode.Axis.multiTouchPositionY, 50), abs(InputCode.Axis.x, 100), abs(InputCode.Axis.y, 50),
            key(InputCode.Key.touch, pressed: true), key(InputCode.Key.left, pressed: true), .synReport,
            slot0, abs(InputCode.Axis.multiTouchPositionX, 120), abs(InputCode.Axis.multiTouchPositionY, 60),
            abs(InputCode.Axis.x, 120), abs(InputCode.Axis.y, 60), .synReport,
            slot0, abs(InputCode.Axis.multiTouchTrackingID, -1),
            key(InputCode.Key.touch, pressed: false), key(InputCode.Key.left, pressed: false), .synReport,
        ], "\(events)")
        #expect(f.device.statistics.eventsDelivered == 20 && f.device.statistics.framesQueued == 3)
        // Nothing more is pending: a posted buffer stays with the device.
        try f.post(1)
        #expect(try f.eventq.waitForUsed(count: 1, timeoutMilliseconds: 200).isEmpty)
    }

    @Test("two contacts: the pointer follows the oldest, BTN_TOUCH lasts while any touches, coordinates are clamped")
    func multiTouch() throws {
        let f = try InputFixture(width: 640, height: 480)
        let screen = try #require(f.screen)
        screen.apply(.touch(contact: 0, x: 10, y: 10))
        screen.apply(.touch(contact: 3, x: 5000, y: 5000))
        screen.apply(.release(contact: 0))
        screen.apply(.move(contact: 7, x: 1, y: 1))     // not touching: nothing
        screen.apply(.release(contact: 3))
        let frames = try f.receiveAll(9 + 5 + 5 + 5).split(separator: .synReport).map(Array.init)
        #expect(frames.count == 4)
        #expect(frames[1] == [abs(InputCode.Axis.multiTouchSlot, 3), abs(InputCode.Axis.multiTouchTrackingID, 1),
                              abs(InputCode.Axis.multiTouchPositionX, 639), abs(InputCode.Axis.multiTouchPositionY, 479)], "\(frames[1])")
        #expect(frames[2] == [abs(InputCode.Axis.multiTouchSlot, 0), abs(InputCode.Axis.multiTouchTrackingID, -1),
                              abs(InputCode.Axis.x, 639), abs(InputCode.Axis.y, 479)], "\(frames[2])")
        #expect(frames[3].suffix(2) == [key(InputCode.Key.touch, pressed: false), key(InputCode.Key.left, pressed: false)])
    }

    @Test("events wait for buffers: two buffers take two events, the rest follow in order")
    func fewerBuffersThanEvents() throws {
        let f = try InputFixture(rawDevice: true)
        for i in 0..<5 { #expect(f.device.inject([abs(InputCode.Axis.x, Int32(i))]) == .queued) }
        #expect(try f.receiveAll(2, window: 2) == [abs(InputCode.Axis.x, 0), .synReport])
        #expect(try f.receiveAll(8) == (1..<5).flatMap { [abs(InputCode.Axis.x, Int32($0)), .synReport] })
    }

    @Test("a guest that takes no events costs a bounded backlog: the oldest whole frames are dropped")
    func boundedBacklog() throws {
        let f = try InputFixture(rawDevice: true, eventQueueSize: 256)
        var outcomes: [InputDevice.Injection] = []
        for i in 0..<600 { outcomes.append(f.device.inject([abs(InputCode.Axis.x, Int32(i)), .synReport])) }
        let frames = InputDevice.backlogLimit / 2
        #expect(outcomes.prefix(frames).allSatisfy { $0 == .queued })
        #expect(outcomes.dropFirst(frames).allSatisfy { $0 == .queuedDroppingOlder(1) })
        #expect(f.device.statistics.framesDropped == 600 - frames)
        let events = try f.receiveAll(InputDevice.backlogLimit, window: 256)
        #expect(events == (600 - frames..<600).flatMap { [abs(InputCode.Axis.x, Int32($0)), .synReport] })
        try f.post(1)
        #expect(try f.eventq.waitForUsed(count: 1, timeoutMilliseconds: 200).isEmpty)
    }

    @Test("after lost frames the touchscreen sends its whole state, so no released contact stays down in the guest")
    func resyncAfterDrops() throws {
        let f = try InputFixture(eventQueueSize: 256)
        let screen = try #require(f.screen)
        screen.apply(.touch(contact: 0, x: 1, y: 1))
        screen.apply(.touch(contact: 1, x: 2, y: 2))
        for i in 0..<400 { screen.apply(.move(contact: 0, x: i % 600, y: 7)) }
        screen.apply(.release(contact: 1))
        screen.apply(.release(contact: 0))
        #expect(f.device.statistics.framesDropped > 0)
        let events = try f.drain()
        #expect(events.count <= InputDevice.backlogLimit && events.last == .synReport, "\(events.count) \(f.device.statistics)")
        let frames = events.split(separator: .synReport)
        #expect(frames.contains { $0.filter { $0.code == InputCode.Axis.multiTouchSlot }.count == 10 }, "a snapshot of every slot")
        var guest = GuestTouchState()
        guest.apply(events)
        #expect(!guest.touching && guest.trackingIDs.allSatisfy { $0 == -1 }, "\(guest)")
    }
}

@Suite(.serialized) struct InputDeviceHostileDriver {
    @Test("short, split and device-readable eventq buffers: refused ones come back empty and keep the event")
    func eventBuffers() throws {
        let f = try InputFixture(rawDevice: true)
        #expect(f.device.inject([abs(InputCode.Axis.y, 7)]) == .queued)
        try f.eventq.ring.add(writable: [try f.driver.allocate(4)])
        try f.eventq.ring.add(readable: [try f.driver.allocate(8)])
        try f.eventq.ring.add(readable: [try f.driver.allocate(8)], writable: [try f.driver.allocate(8)])
        let split = (try f.driver.allocate(3), try f.driver.allocate(5))
        try f.eventq.ring.add(writable: [split.0, split.1])
        f.eventq.kick()
        let used = try f.eventq.waitForUsed(count: 4)
        #expect(used.map(\.length) == [0, 0, 0, 8])
        #expect(InputEvent(bytes: try split.0.bytes(count: 3) + split.1.bytes(count: 5)) == abs(InputCode.Axis.y, 7))
        #expect(try f.receiveAll(1) == [.synReport])
        #expect(f.device.statistics.buffersRefused == 3 && f.device.statistics.eventsDelivered == 2)
    }

    @Test("statusq: one event per buffer is consumed and ignored; anything else is refused")
    func statusBuffers() throws {
        let f = try InputFixture(rawDevice: true)
        let led = try f.driver.allocate(8)
        try led.write(InputEvent(type: InputCode.EventType.led, code: 0, value: 1).bytes)
        try f.statusq.ring.add(readable: [led])
        try f.statusq.ring.add(readable: [try f.driver.allocate(5)])
        try f.statusq.ring.add(readable: [try f.driver.allocate(16)])
        try f.statusq.ring.add(readable: [try f.driver.allocate(8)], writable: [try f.driver.allocate(8)])
        f.statusq.kick()
        #expect(try f.statusq.waitForUsed(count: 4).map(\.length) == [0, 0, 0, 0])
        #expect(f.device.statistics.statusEvents == 1 && f.device.statistics.buffersRefused == 3)
    }

    @Test("frames without a driver are dropped; too long a frame is refused; SYN_REPORT is added once")
    func framesWithoutDriver() throws {
        let device = try InputDevice(description: .touchscreen(width: 10, height: 10), logger: Logger(label: "test.input"))
        #expect(device.inject([abs(InputCode.Axis.x, 1)]) == .noDriver)
        #expect(device.statistics.framesWithoutDriver == 1)
        let f = try InputFixture(rawDevice: true)
        #expect(f.device.inject(Array(repeating: abs(InputCode.Axis.x, 1), count: InputDevice.maxFrameEvents)) == .tooLong)
        #expect(f.device.inject([abs(InputCode.Axis.x, 2), .synReport]) == .queued)
        #expect(f.device.inject([]) == .queued)
        #expect(try f.receiveAll(2) == [abs(InputCode.Axis.x, 2), .synReport])
    }

    @Test("a device reset drops queued events: the next driver does not get them")
    func resetDropsBacklog() throws {
        let f = try InputFixture(rawDevice: true)
        #expect(f.device.inject([abs(InputCode.Axis.x, 3)]) == .queued)
        try f.driver.frontend.sendAcked(.resetDevice)
        #expect(f.device.inject([abs(InputCode.Axis.x, 4)]) == .noDriver)
    }
}

@Suite struct TouchLines {
    @Test("the events protocol: touch, move, release with an optional contact")
    func validLines() throws {
        func parse(_ text: String) throws -> TouchAction? { try TouchLine.parse(Array(text.utf8)) }
        #expect(try parse("touch 100 50") == .touch(contact: 0, x: 100, y: 50))
        #expect(try parse("move 0 99999 9\r") == .move(contact: 9, x: 0, y: 99999))
        #expect(try parse("\trelease   ") == .release(contact: 0) && parse("release 4") == .release(contact: 4))
        #expect(try parse("") == nil && parse("  \t ") == nil)
    }

    @Test("invalid lines name what is wrong")
    func invalidLines() {
        let cases: [(String, TouchLineError)] = [
            ("tap 1 2", .unknownCommand("tap")), ("bogus line", .unknownCommand("bogus")),
            ("touch 1", .argumentCount(command: "touch", expected: "X Y [CONTACT]", got: 1)),
            ("touch 1 2 3 4", .argumentCount(command: "touch", expected: "X Y [CONTACT]", got: 4)),
            ("release 1 2", .argumentCount(command: "release", expected: "[CONTACT]", got: 2)),
            ("touch -1 2", .badNumber("-1")), ("touch +1 2", .badNumber("+1")),
            ("move 123456 2", .badNumber("123456")), ("move 1 0x10", .badNumber("0x10")),
            ("touch 1 2 10", .contactOutOfRange(10)),
            ("touch 1\u{0} 2", .notText), ("touch 1 2 \u{e9}", .notText),
            (String(repeating: "m", count: 65), .tooLong),
        ]
        for (line, expected) in cases {
            #expect(throws: expected, "\(line)") { try TouchLine.parse(Array(line.utf8)) }
        }
    }
}

@Suite(.serialized) struct TouchEventsSocketTests {
    @Test("lines from a client become touches in order; bad lines are ignored; leaving releases what it held")
    func linesBecomeTouches() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("avp-touch-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try TouchEventsSocket(path: dir + "/events", logger: Logger(label: "test.touch"))
        let seen = Mutex<[TouchAction]>([])
        try source.start { action in seen.withLock { $0.append(action) } }
        defer { source.stop() }
        let client = try UnixSocket.connect(to: dir + "/events")
        try client.send(Array("touch 100 50\nbogus\nmove 1 2 3\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 5000)
                        + Array("\nrelease\ntouch 5 5 2\nmove 6 6 2".utf8))
        func wait(for count: Int, seconds: Double = 3) -> [TouchAction] {
            let deadline = MonotonicClock.seconds() + seconds
            while seen.withLock({ $0.count }) < count, MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 10) }
            return seen.withLock { $0 }
        }
        #expect(wait(for: 4) == [.touch(contact: 0, x: 100, y: 50), .move(contact: 3, x: 1, y: 2), .release(contact: 0),
                                 .touch(contact: 2, x: 5, y: 5)])
        #expect(source.ignoredLines == 2)
        client.shutdown()
        // The unfinished last line is dropped with the client; contact 2 is released for it.
        #expect(wait(for: 5).last == .release(contact: 2))
        #expect(wait(for: 6, seconds: 0.3).count == 5)
    }

    @Test("a touchscreen fed by the socket delivers to the guest")
    func socketToGuest() throws {
        let f = try InputFixture()
        let screen = try #require(f.screen)
        let source = try TouchEventsSocket(path: f.directory + "/events", logger: Logger(label: "test.touch"))
        try source.start { screen.apply($0) }
        defer { source.stop() }
        let client = try UnixSocket.connect(to: f.directory + "/events")
        try client.send(Array("touch 100 50\nrelease\n".utf8))
        var guest = GuestTouchState()
        let events = try f.receiveAll(14)
        guest.apply(Array(events.prefix(9)))
        #expect(guest.touching && guest.trackingIDs[0] == 0)
        guest.apply(Array(events.dropFirst(9)))
        #expect(!guest.touching && guest.trackingIDs[0] == -1 && events.last == .synReport)
    }
}
