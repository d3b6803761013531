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

/// A sink that keeps what it is given, and when: what a stream played, for assertions.
final class RecordingSink: SoundSink, SoundSinkPort, @unchecked Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var writes: [UInt64] = []
        var gaps = 0
        var formats: [PCMStreamFormat] = []
        var closed = 0
    }
    private let state = Mutex(State())

    func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSinkPort {
        state.withLock { $0.formats.append(format) }
        return self
    }
    func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) {
        let now = MonotonicClock.nanoseconds()
        state.withLock {
            $0.bytes += frames
            $0.writes.append(now)
        }
    }
    func gap(frames: Int) { state.withLock { $0.gaps += frames } }
    var latencyBytes: Int { 64 }
    func close() { state.withLock { $0.closed += 1 } }

    var bytes: [UInt8] { state.withLock { $0.bytes } }
    var writes: [UInt64] { state.withLock { $0.writes } }
    var gaps: Int { state.withLock { $0.gaps } }
    var formats: [PCMStreamFormat] { state.withLock { $0.formats } }
    var closed: Int { state.withLock { $0.closed } }
}

/// A sink whose disk is full: every write fails.
final class FailingSink: SoundSink, SoundSinkPort, @unchecked Sendable {
    func connect(_ stream: SoundStreamTag, format: PCMStreamFormat) throws(SoundHostError) -> any SoundSinkPort { self }
    func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) { throw .io("no space left on device") }
    func gap(frames: Int) {}
    var latencyBytes: Int { 0 }
    func close() {}
}

/// `SoundDevice` on a vhost-user server, driven by the Swift front end the way Linux's
/// virtio_snd drives it: control requests on queue 0, event buffers on 1, playback messages
/// (xfer header, frames, 8-byte status) on 2 and capture messages on 3 (VIRTIO 1.2 §5.14).
final class SoundFixture {
    let directory: String
    let device: SoundDevice
    let server: VhostUserServer
    let driver: GuestDriver
    let sink: RecordingSink
    /// The writable part of each message in flight, by queue and head.
    private var replies: [Int: [UInt16: GuestSlice]] = [:]

    init(topology: SoundTopology = .standard(), source: any SoundSource = TestToneSource(frequency: 1000),
         sink: RecordingSink = RecordingSink(), deviceSink: (any SoundSink)? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-sound-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.sink = sink
        device = try SoundDevice(topology: topology, sink: deviceSink ?? sink, source: source, origin: "test", logger: Logger(label: "test.sound"))
        server = try VhostUserServer(socketPath: directory + "/snd.sock", device: device, logger: Logger(label: "test.sound"))
        try server.start()
        driver = try GuestDriver.start(socketPath: directory + "/snd.sock", queueSizes: [64, 64, 64, 64], memorySize: 32 << 20)
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var controlq: DriverQueue { driver.queues[0] }
    var eventq: DriverQueue { driver.queues[1] }
    var txq: DriverQueue { driver.queues[2] }
    var rxq: DriverQueue { driver.queues[3] }

    /// A control request and its reply: the status code and the `replySize - 4` bytes after it.
    func control(_ request: [UInt8], replySize: Int = 4) throws -> (status: UInt32, payload: [UInt8]) {
        let readable = try driver.allocate(max(1, request.count))
        try readable.write(request)
        let reply = try driver.allocate(replySize)
        try reply.write([UInt8](repeating: 0xee, count: replySize))
        let head = try controlq.ring.add(readable: request.isEmpty ? [] : [readable], writable: [reply])
        controlq.kick()
        let used = try controlq.waitForUsed()
        try #require(used.count == 1 && used[0].head == head)
        let bytes = try reply.bytes(count: replySize)
        let status = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        #expect(Int(used[0].length) == (status == SoundStatus.ok.rawValue ? replySize : 4))
        return (status, Array(bytes.dropFirst(4)))
    }

    /// A PCM command's status (`code` is VIRTIO_SND_R_PCM_*).
    func command(_ code: SoundRequestCode, stream: UInt32) throws -> UInt32 {
        try control(soundWords(code.rawValue, stream)).status
    }

    func setParameters(stream: UInt32, _ parameters: PCMParameterRequest) throws -> UInt32 {
        try control(soundWords(SoundRequestCode.pcmSetParameters.rawValue, stream) + parameters.bytes).status
    }

    /// SET_PARAMS, PREPARE (and START when asked); each must be OK.
    func open(stream: UInt32, _ parameters: PCMParameterRequest, start: Bool = false) throws {
        #expect(try setParameters(stream: stream, parameters) == SoundStatus.ok.rawValue)
        #expect(try command(.pcmPrepare, stream: stream) == SoundStatus.ok.rawValue)
        if start { #expect(try command(.pcmStart, stream: stream) == SoundStatus.ok.rawValue) }
    }

    /// Posts a playback message: stream ID, then `frames`, then room for the status.
    @discardableResult
    func play(stream: UInt32 = 0, _ frames: [UInt8], statusSize: Int = 8) throws -> UInt16 {
        let header = try driver.allocate(4)
        try header.write(soundWords(stream))
        var readable = [header]
        if !frames.isEmpty {
            let data = try driver.allocate(frames.count)
            try data.write(frames)
            readable.append(data)
        }
        let status = try driver.allocate(max(statusSize, 1))
        let head = try txq.ring.add(readable: readable, writable: statusSize > 0 ? [status] : [])
        replies[2, default: [:]][head] = status
        txq.kick()
        return head
    }

    /// Posts a capture message with room for `bytes` of frames and the status.
    @discardableResult
    func record(stream: UInt32 = 1, bytes: Int) throws -> UInt16 {
        let header = try driver.allocate(4)
        try header.write(soundWords(stream))
        let room = try driver.allocate(bytes + 8)
        let head = try rxq.ring.add(readable: [header], writable: [room])
        replies[3, default: [:]][head] = room
        rxq.kick()
        return head
    }

    /// A returned message: its status, latency and (capture) frames, and when it came back.
    struct Returned {
        var head: UInt16
        var status: UInt32
        var latency: UInt32
        var frames: [UInt8]
        var at: UInt64
    }

    /// Waits for `count` messages back from `queue` (at most `timeout` ms).
    func returned(_ queue: DriverQueue, count: Int, timeout: Int = 5000) throws -> [Returned] {
        var out: [Returned] = []
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout) * 1_000_000
        while out.count < count, MonotonicClock.nanoseconds() < deadline {
            for used in try queue.waitForUsed(count: 1, timeoutMilliseconds: 50) {
                let now = MonotonicClock.nanoseconds()
                let taken = replies[queue.index]?.removeValue(forKey: used.head)
                let room = try #require(taken)
                let length = Int(used.length)
                guard length >= 8 else {
                    out.append(Returned(head: used.head, status: 0, latency: 0, frames: [], at: now))
                    continue
                }
                let statusBytes = try room.bytes(at: room.count - 8, count: 8)
                let words = soundWordsFrom(statusBytes)
                out.append(Returned(head: used.head, status: words[0], latency: words[1],
                                    frames: try room.bytes(count: length - 8), at: now))
            }
        }
        return out
    }

    /// Posts empty event buffers, as virtio_snd fills the eventq at probe.
    func postEventBuffers(_ count: Int) throws {
        for _ in 0..<count {
            let buffer = try driver.allocate(8)
            replies[1, default: [:]][try eventq.ring.add(writable: [buffer])] = buffer
        }
        eventq.kick()
    }

    /// Events the device wrote, as (code, data), waiting up to `timeout` ms for `count`.
    func events(count: Int, timeout: Int = 2000) throws -> [(code: UInt32, data: UInt32)] {
        try eventq.waitForUsed(count: count, timeoutMilliseconds: timeout).map { used in
            let taken = replies[1]?.removeValue(forKey: used.head)
            let buffer = try #require(taken)
            let words = soundWordsFrom(try buffer.bytes(count: 8))
            return (words[0], words[1])
        }
    }
}

func soundWordsFrom(_ bytes: [UInt8]) -> [UInt32] {
    stride(from: 0, to: bytes.count - 3, by: 4).map {
        UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24
    }
}
