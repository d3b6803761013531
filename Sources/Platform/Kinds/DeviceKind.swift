/// The registry: every kind of device AVP serves, as the platform file's `type:` names
/// it, and the one definition behind each. Adding a kind is one case and one line in
/// `definition`; the compiler finds the rest (docs/architecture.md).
public enum DeviceKind: String, Codable, Sendable, CaseIterable {
    case entropy, block, console, net, vsock, gpu, input, sound, fs
    case i2c
    case gpio
    case scmi
    case usbHost = "usb-host"
    case crypto

    /// Everything the platform knows about this kind: options, rules, server, QEMU model,
    /// virtio ID and device-tree node.
    var definition: any DeviceKindDefinition.Type {
        switch self {
        case .entropy: EntropyKind.self
        case .block: BlockKind.self
        case .console: ConsoleKind.self
        case .net: NetKind.self
        case .vsock: VsockKind.self
        case .gpu: GpuKind.self
        case .input: InputKind.self
        case .sound: SoundKind.self
        case .fs: FsKind.self
        case .i2c: I2cKind.self
        case .gpio: GpioKind.self
        case .scmi: ScmiKind.self
        case .usbHost: UsbHostKind.self
        case .crypto: CryptoKind.self
        }
    }
}
