import AVPTestSupport
import Devices
import Foundation
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// Every device kind AVP serves, built in-process on scratch resources for the message-sequence
/// property test (MessageSequenceTests): a 1 MiB image, an emptied share, simulated GPIO lines,
/// an emulated EEPROM and sensor, a muted mixer. Each is served on its own socket.
enum MessageSequenceKind: String, CaseIterable, CustomStringConvertible {
    case entropy, block, net, vsock, console, gpu, sound, gpio, i2c, scmi, input, crypto, fs

    var description: String { rawValue }

    /// The device, its scratch files under `directory`, and anything it needs kept alive.
    func make(in directory: String, logger: Logger) throws -> (device: VirtioDevice, keep: [AnyObject]) {
        switch self {
        case .entropy:
            return (EntropyDevice(logger: logger), [])
        case .block:
            let image = directory + "/disk.img"
            _ = FileManager.default.createFile(atPath: image, contents: nil)
            try FileDescriptor.open(image, flags: O_RDWR).truncate(to: 1 << 20)
            return (try BlockDevice(options: BlockDeviceOptions(imagePath: image), logger: logger), [])
        case .net:
            let fabric = EthernetSwitch()
            let port = try SwitchPort(policy: NetPortPolicy(name: "a", mac: MACAddress("02:00:00:00:00:01")!, macChange: .deny, mtu: 1500),
                                      switch: fabric, logger: logger)
            let peer = try SwitchPort(policy: NetPortPolicy(name: "b", mac: MACAddress("02:00:00:00:00:02")!), switch: fabric, logger: logger)
            return (port, [peer])
        case .vsock:
            return (try VsockDevice(cid: 3, hostSocketPath: directory + "/vsock.sock", router: VsockRouter(allowedPairs: [(3, 4)]),
                                    logger: logger), [])
        case .console:
            return (try ConsoleDevice(hostSocket: directory + "/console.sock", logger: logger), [])
        case .gpu:
            return (GpuDevice(modes: [DisplayMode(width: 96, height: 64, widthMM: 100, heightMM: 66)], logger: logger), [])
        case .sound:
            let mixer = try SoundMixer(output: NullOutput(format: PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)),
                                       policy: AudioPolicy(vms: [AudioVM(name: "t", playback: ["media"], muted: true)]), logger: logger)
            return (try SoundDevice(sink: mixer, source: TestToneSource(frequency: 1000), origin: "t", logger: logger), [mixer])
        case .gpio:
            let block = try GpioBlock(provider: SimulatedGpioLines(names: ["a", "b", "c"]), logger: logger)
            let map = try GpioLineMap(block: block, owned: ["a", "b"], readOnly: ["c"])
            return (try GpioDevice(vm: "t", map: map, block: block, logger: logger), [block])
        case .i2c:
            let targets = EmulatedI2cTargets([I2cAddress(0x50)!: try Eeprom24C02(file: nil), I2cAddress(0x48)!: TemperatureSensor(celsius: 21.5)!])
            return (I2cDevice(bus: I2cBus([I2cAddress(0x50)!: targets, I2cAddress(0x48)!: targets]), logger: logger), [])
        case .scmi:
            let signals = try ScmiSignals(trace: try ScmiSignalTrace(csv: "time_s,speed\n0,0\n10,30\n"), constants: [:])
            let topology = try ScmiHostTopology(
                sensors: [ScmiHostSensor(name: "speed", unit: .metersPerSecond, source: try ScmiSignalSensor(signals: signals, signal: "speed"))],
                performance: [try ScmiPerformanceDomain(name: "cpu", levels: [600_000, 1_200_000], limit: 1_200_000)],
                power: [try ScmiPowerDomain(name: "gpu")], reset: ["modem"])
            let host = ScmiHost(topology: topology, logger: logger)
            let view = try ScmiAgentView(vm: "t", topology: topology, sensors: ["speed"], performance: ["cpu"], power: ["gpu"], reset: ["modem"])
            return (try ScmiDevice(view: view, host: host, logger: logger), [host])
        case .input:
            return (try InputDevice(description: .touchscreen(width: 800, height: 480), logger: logger), [])
        case .crypto:
            return (CryptoDevice(maxSessions: 16, logger: logger), [])
        case .fs:
            let share = directory + "/share"
            try FileManager.default.createDirectory(atPath: share, withIntermediateDirectories: true)
            try "file".write(toFile: share + "/f", atomically: false, encoding: .utf8)
            let store = try PassthroughStore(sharedDirectory: share, readOnly: false, maxNodes: 64, maxHandles: 16)
            return (FsDevice(store: store, logger: logger), [])
        }
    }
}

/// A server of one kind on a fresh socket, stopped (and its files removed) at the end.
final class MessageSequenceServer {
    let kind: MessageSequenceKind
    let directory: String
    let path: String
    let device: VirtioDevice
    let server: VhostUserServer
    private let keep: [AnyObject]

    init(_ kind: MessageSequenceKind) throws {
        self.kind = kind
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-seq-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/vu.sock"
        // The sequences provoke refusals and protocol errors by the thousand: only criticals are logged.
        var logger = Logger(label: "test.sequence.\(kind)")
        logger.logLevel = .critical
        (device, keep) = try kind.make(in: directory, logger: logger)
        server = try VhostUserServer(socketPath: path, device: device, logger: logger)
        try server.start()
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite struct MessageSequenceKinds {
    @Test(arguments: MessageSequenceKind.allCases)
    func everyKindIsServedAndAnswers(_ kind: MessageSequenceKind) throws {
        let s = try MessageSequenceServer(kind)
        let front = try VhostUserFrontend.connect(to: s.path)
        front.channel.setReceiveTimeout(seconds: 3)
        #expect(try front.getQueueNum() == UInt64(s.device.queueCount))
    }
}
