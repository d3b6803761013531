// The sequence target's devices: one of every kind AVP serves, built in-process the way the
// `avp serve` commands build them, but on scratch resources (a 1 MiB image, an emptied share,
// simulated GPIO lines, an emulated EEPROM, a muted mixer). Each is built once, when an input
// first chooses its kind, and reset by the back end whenever a front end goes away.
import Devices
import Foundation
import Logging
import Virtio

enum SequenceKind: Int, CaseIterable {
    case entropy, block, net, vsock, console, gpu, sound, gpio, i2c, scmi, input, crypto, fs

    static func choose(_ byte: UInt8) -> SequenceKind { allCases[Int(byte) % allCases.count] }
}

enum SequenceDevices {
    private static let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
    private static let scratch: String = {
        // A guest's writes through virtio-fs and virtio-blk stay small: files are capped (RLIMIT_FSIZE).
        var limit = rlimit(rlim_cur: 8 << 20, rlim_max: 8 << 20)
        setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
        signal(SIGXFSZ, SIG_IGN)
        let path = NSTemporaryDirectory() + "avp-fuzz-sequence-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path + "/share", withIntermediateDirectories: true)
        return path
    }()
    nonisolated(unsafe) private static var built: [SequenceKind: VirtioDevice] = [:]
    nonisolated(unsafe) private static var fsUses = 0

    /// The device of `kind`, built on first use.
    static func device(_ kind: SequenceKind) -> VirtioDevice {
        if kind == .fs {
            fsUses += 1
            if fsUses % 256 == 0 { emptyShare() }
        }
        if let d = built[kind] { return d }
        let d = make(kind)
        built[kind] = d
        return d
    }

    /// What guests created in the share goes every 256 inputs, so a long run cannot fill the disk.
    private static func emptyShare() {
        let share = scratch + "/share"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: share)) ?? [] {
            try? FileManager.default.removeItem(atPath: share + "/" + name)
        }
        try? "file".write(toFile: share + "/f", atomically: false, encoding: .utf8)
    }

    private static func make(_ kind: SequenceKind) -> VirtioDevice {
        switch kind {
        case .entropy:
            return EntropyDevice(logger: logger)
        case .block:
            let image = scratch + "/disk.img"
            _ = FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20))
            var options = BlockDeviceOptions(imagePath: image)
            options.serial = "FUZZ"
            let d = try! BlockDevice(options: options, logger: logger)
            unlink(image)  // the device keeps its descriptor
            return d
        case .net:
            let fabric = EthernetSwitch()
            let port = try! SwitchPort(policy: NetPortPolicy(name: "fuzz", mac: MACAddress("02:00:00:00:00:01")!, macChange: .deny, mtu: 1500),
                                       switch: fabric, logger: logger)
            // A second port, so frames the guest sends have somewhere to go.
            peers.append(try! SwitchPort(policy: NetPortPolicy(name: "peer", mac: MACAddress("02:00:00:00:00:02")!), switch: fabric, logger: logger))
            return port
        case .vsock:
            return try! VsockDevice(cid: 3, hostSocketPath: scratch + "/vsock.sock", router: VsockRouter(allowedPairs: [(3, 4)]), logger: logger)
        case .console:
            return try! ConsoleDevice(hostSocket: scratch + "/no-console.sock", logger: logger)
        case .gpu:
            return GpuDevice(modes: [DisplayMode(width: 96, height: 64, widthMM: 100, heightMM: 66)], logger: logger)
        case .sound:
            let mixer = try! SoundMixer(output: NullOutput(format: PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)),
                                        policy: AudioPolicy(vms: [AudioVM(name: "fuzz", playback: ["media"], muted: true)]), logger: logger)
            return try! SoundDevice(sink: mixer, source: TestToneSource(frequency: 1000), origin: "fuzz", logger: logger)
        case .gpio:
            let block = try! GpioBlock(provider: SimulatedGpioLines(names: ["a", "b", "c", "d"]), logger: logger)
            let map = try! GpioLineMap(block: block, owned: ["a", "b"], readOnly: ["c"])
            return try! GpioDevice(vm: "fuzz", map: map, block: block, logger: logger)
        case .i2c:
            let targets = EmulatedI2cTargets([I2cAddress(0x50)!: try! Eeprom24C02(file: nil), I2cAddress(0x48)!: TemperatureSensor(celsius: 21.5)!])
            return I2cDevice(bus: I2cBus([I2cAddress(0x50)!: targets, I2cAddress(0x48)!: targets]), logger: logger)
        case .scmi:
            let signals = try! ScmiSignals(trace: try! ScmiSignalTrace(csv: "time_s,speed\n0,0\n10,30\n"), constants: ["cabin": 21])
            let topology = try! ScmiHostTopology(
                sensors: [ScmiHostSensor(name: "speed", unit: .metersPerSecond, source: try! ScmiSignalSensor(signals: signals, signal: "speed")),
                          ScmiHostSensor(name: "cabin", unit: .celsius, source: try! ScmiSignalSensor(signals: signals, signal: "cabin"))],
                performance: [try! ScmiPerformanceDomain(name: "cpu", levels: [600_000, 1_200_000], limit: 1_200_000)],
                power: [try! ScmiPowerDomain(name: "gpu")], reset: ["modem"])
            let host = ScmiHost(topology: topology, logger: logger)
            let view = try! ScmiAgentView(vm: "fuzz", topology: topology, sensors: ["speed", "cabin"], performance: ["cpu"],
                                          power: ["gpu"], reset: ["modem"])
            return try! ScmiDevice(view: view, host: host, logger: logger)
        case .input:
            return try! InputDevice(description: .touchscreen(width: 800, height: 480), logger: logger)
        case .crypto:
            return CryptoDevice(maxSessions: 16, logger: logger)
        case .fs:
            emptyShare()
            return FsDevice(store: try! PassthroughStore(sharedDirectory: scratch + "/share", readOnly: false, maxNodes: 64, maxHandles: 16),
                            logger: logger)
        }
    }

    nonisolated(unsafe) private static var peers: [SwitchPort] = []
}
