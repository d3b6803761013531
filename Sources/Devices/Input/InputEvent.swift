/// `struct virtio_input_event` (VIRTIO 1.2 §5.8.6): le16 type, le16 code, le32 value. The
/// device puts one in each eventq buffer; the driver sends them on the statusq (LEDs).
public struct InputEvent: Sendable, Equatable, CustomStringConvertible {
    /// Bytes of one event in a buffer.
    public static let size = 8

    public var type: UInt16
    public var code: UInt16
    public var value: Int32

    public init(type: UInt16, code: UInt16, value: Int32) {
        self.type = type
        self.code = code
        self.value = value
    }

    /// EV_SYN/SYN_REPORT: the end of a frame.
    public static let synReport = InputEvent(type: InputCode.EventType.synchronization, code: InputCode.Synchronization.report, value: 0)

    public static func key(_ code: UInt16, pressed: Bool) -> InputEvent {
        InputEvent(type: InputCode.EventType.key, code: code, value: pressed ? 1 : 0)
    }

    public static func absolute(_ axis: UInt16, _ value: Int32) -> InputEvent {
        InputEvent(type: InputCode.EventType.absolute, code: axis, value: value)
    }

    /// Decodes exactly `size` little-endian bytes; nil for any other count.
    public init?(bytes b: [UInt8]) {
        guard b.count == Self.size else { return nil }
        type = UInt16(b[0]) | UInt16(b[1]) << 8
        code = UInt16(b[2]) | UInt16(b[3]) << 8
        value = Int32(bitPattern: UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24)
    }

    public var bytes: [UInt8] {
        let v = UInt32(bitPattern: value)
        return [UInt8(truncatingIfNeeded: type), UInt8(truncatingIfNeeded: type >> 8),
                UInt8(truncatingIfNeeded: code), UInt8(truncatingIfNeeded: code >> 8),
                UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8),
                UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)]
    }

    public var isSynReport: Bool { self == .synReport }

    public var description: String { "type \(type) code 0x\(String(code, radix: 16)) value \(value)" }
}
