import GuestMemory
import Logging
import Synchronization
import SystemCalls
import Virtio

/// virtio-console (VIRTIO 1.2 §5.3, {AVPS-v2.0-46}) with VIRTIO_CONSOLE_F_MULTIPORT and one
/// port, port 0, announced as the console: Linux shows it as hvc0. Queues: port 0 receive
/// (0) and transmit (1), control receive (2) and transmit (3).
///
/// The host side is a byte stream: the device connects to `hostSocket` (an `avp serve
/// console` hub's guest socket, the same one QEMU's virtconsole chardev would use) and
/// reconnects if it goes away. Output the host cannot take is dropped, input waits for
/// the guest's buffers up to a bound: a console never holds the guest up. The socket is a
/// `NonBlockingStream`: the device itself makes no socket calls.
public final class ConsoleDevice: VirtioDevice, @unchecked Sendable {
    static let portReceive = 0, portTransmit = 1, controlReceive = 2, controlTransmit = 3
    public static let multiport = VirtioFeatures(bit: 1)
    /// Input kept for the guest while it has no receive buffers.
    static let inputLimit = 64 * 1024

    public let deviceType = VirtioDeviceType.console
    public let queueCount = 4
    public let deviceFeatures: VirtioFeatures = [ConsoleDevice.multiport]
    public let configSize = 12

    private let hostSocket: String
    private let logger: Logger
    private var host: NonBlockingStream?
    private var queues: [Int: DeviceQueue] = [:]
    private var controlOut: [ConsoleControl] = []
    private var input: [UInt8] = []
    /// Bytes the guest wrote and the host received (read by tests).
    public private(set) var output: [UInt8] = []
    public private(set) var portReady = false

    public init(hostSocket: String, logger: Logger) throws {
        self.hostSocket = hostSocket
        self.logger = logger
    }

    // MARK: VirtioDevice

    /// cols, rows (0: unknown), max_nr_ports = 1, emerg_wr.
    public func readConfig(offset: Int, count: Int) -> [UInt8]? {
        let bytes: [UInt8] = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        guard offset >= 0, count >= 0, offset + count <= bytes.count else { return nil }
        return Array(bytes[offset..<offset + count])
    }

    /// Only emerg_wr (offset 8) is writable: an emergency character from the driver.
    public func writeConfig(offset: Int, bytes: [UInt8]) -> Bool {
        guard offset == 8, bytes.count == 4 else { return false }
        toHost([bytes[0]])
        return true
    }

    public var eventDescriptors: [Int32] { host.map { [$0.rawValue] } ?? [] }
    public private(set) var eventGeneration = 0

    public func queueStarted(_ queue: DeviceQueue) {
        queues[queue.index] = queue
        connectHost()
    }

    public func queueStopped(index: Int) { queues[index] = nil }

    public func reset() {
        queues = [:]
        controlOut = []
        input = []
        portReady = false
        dropHost()
    }

    public func process(_ queue: DeviceQueue) {
        switch queue.index {
        case Self.controlTransmit: controlFromDriver(queue)
        case Self.portTransmit: dataFromDriver(queue)
        default: break
        }
        flush()
    }

    /// The host stream became readable (or closed).
    public func handleEvent(descriptor: Int32) {
        readHost()
        flush()
    }

    // MARK: Driver → device

    private func controlFromDriver(_ queue: DeviceQueue) {
        repeat {
            while let chain = queue.pop() {
                var reader = chain.reader()
                if let bytes = try? reader.readBytes(min(reader.remaining, ConsoleControl.size)), let message = ConsoleControl(bytes) {
                    handle(message)
                }
                queue.complete(chain, written: 0)
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    /// The handshake of VIRTIO 1.2 §5.3.6.2: DEVICE_READY → DEVICE_ADD(0); PORT_READY(0) →
    /// CONSOLE_PORT(0) and PORT_OPEN(0) (the host side is always open).
    private func handle(_ message: ConsoleControl) {
        switch ConsoleControl.Event(rawValue: message.event) {
        case .deviceReady where message.value == 1:
            controlOut.append(ConsoleControl(port: 0, event: .deviceAdd, value: 1))
        case .portReady where message.port == 0 && message.value == 1:
            portReady = true
            controlOut.append(ConsoleControl(port: 0, event: .consolePort, value: 1))
            controlOut.append(ConsoleControl(port: 0, event: .portOpen, value: 1))
        case .portReady:
            logger.warning("console: driver could not set up port \(message.port)")
        default:
            break
        }
    }

    private func dataFromDriver(_ queue: DeviceQueue) {
        repeat {
            while let chain = queue.pop() {
                var reader = chain.reader()
                if let bytes = try? reader.readBytes(min(reader.remaining, 64 * 1024)) { toHost(bytes) }
                queue.complete(chain, written: 0)
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    // MARK: Host stream

    private func connectHost() {
        guard host == nil, let stream = try? NonBlockingStream.connect(to: hostSocket) else { return }
        host = stream
        eventGeneration += 1
    }

    /// Output the host cannot take now is dropped (never queued): the guest is not held up.
    private func toHost(_ bytes: [UInt8]) {
        output += bytes
        if output.count > 1 << 20 { output.removeFirst(output.count - (1 << 20)) }
        connectHost()
        guard let host else { return }
        do { _ = try host.send(bytes) } catch { dropHost() }
    }

    private func readHost() {
        guard let host else { return }
        while true {
            let result: UnixSocket.ReceiveResult
            do { result = try host.receive(upTo: 4096) } catch {
                dropHost()
                return
            }
            switch result {
            case let .received(bytes):
                input += bytes
                if input.count > Self.inputLimit { input.removeFirst(input.count - Self.inputLimit) }
            case .wouldBlock:
                return
            case .endOfStream:
                dropHost()
                return
            }
        }
    }

    private func dropHost() {
        guard host != nil else { return }
        host = nil
        eventGeneration += 1
    }

    // MARK: Device → driver

    /// Sends queued control messages and input into the driver's buffers.
    private func flush() {
        if let control = queues[Self.controlReceive] {
            while !controlOut.isEmpty, control.hasAvailable || (control.rearm() && control.hasAvailable), let chain = control.pop() {
                var writer = chain.writer()
                try? writer.write(controlOut.removeFirst().bytes)
                control.complete(chain, written: writer.written)
            }
            control.notifyIfNeeded()
        }
        if portReady, let rx = queues[Self.portReceive] {
            while !input.isEmpty, rx.hasAvailable || (rx.rearm() && rx.hasAvailable), let chain = rx.pop() {
                let count = min(input.count, chain.writableLength)
                var writer = chain.writer()
                try? writer.write(Array(input[..<count]))
                input.removeFirst(count)
                rx.complete(chain, written: writer.written)
            }
            rx.notifyIfNeeded()
        }
    }
}
