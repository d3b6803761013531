/// VIRTIO device IDs (VIRTIO 1.2 §5), for the devices AVPS names.
public enum VirtioDeviceType: UInt32, Sendable {
    case network = 1
    case block = 2
    case console = 3
    case entropy = 4
    case gpu = 16
    case input = 18
    case vsock = 19
    case crypto = 20
    case sound = 25
    case fileSystem = 26
    case rpmb = 28
    case scmi = 32
    case i2c = 34
    case can = 36
    case gpio = 41
}
