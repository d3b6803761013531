/// virtio-console control messages (VIRTIO 1.2 §5.3.6.2, `struct virtio_console_control`):
/// le32 id (port), le16 event, le16 value.
public struct ConsoleControl: Equatable, Sendable {
    public static let size = 8

    public enum Event: UInt16, Sendable {
        case deviceReady = 0, deviceAdd = 1, deviceRemove = 2, portReady = 3, consolePort = 4, resize = 5, portOpen = 6, portName = 7
    }

    public var port: UInt32
    public var event: UInt16
    public var value: UInt16

    public init(port: UInt32, event: Event, value: UInt16) {
        self.port = port
        self.event = event.rawValue
        self.value = value
    }

    public init?(_ b: [UInt8]) {
        guard b.count >= Self.size else { return nil }
        port = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        event = UInt16(b[4]) | UInt16(b[5]) << 8
        value = UInt16(b[6]) | UInt16(b[7]) << 8
    }

    public var bytes: [UInt8] {
        [UInt8(truncatingIfNeeded: port), UInt8(truncatingIfNeeded: port >> 8), UInt8(truncatingIfNeeded: port >> 16),
         UInt8(truncatingIfNeeded: port >> 24), UInt8(truncatingIfNeeded: event), UInt8(truncatingIfNeeded: event >> 8),
         UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)]
    }
}
