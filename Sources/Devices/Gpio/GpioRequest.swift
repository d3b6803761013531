/// One `struct virtio_gpio_request` (VIRTIO 1.2 §5.17.6: le16 type, le16 gpio, le32 value),
/// parsed by a pure function into a typed request or a typed error: the device answers an
/// error with VIRTIO_GPIO_STATUS_ERR, never trusting a field it has not checked.
public enum GpioRequest: Sendable, Equatable {
    case getLineNames
    case getDirection(line: Int)
    case setDirection(line: Int, GpioDirection)
    case getValue(line: Int)
    case setValue(line: Int, Bool)
    case setIRQType(line: Int, GpioTrigger)

    /// Bytes of `struct virtio_gpio_request`.
    public static let size = 8
    /// Bytes of `struct virtio_gpio_response` (u8 status, u8 value).
    public static let responseSize = 2

    /// What the guest's `bytes` (the chain's whole device-readable part) ask of a device
    /// with `lineCount` lines; `irq`: VIRTIO_GPIO_F_IRQ was negotiated.
    public static func parse(_ bytes: [UInt8], lineCount: Int, irq: Bool) throws(GpioRequestError) -> GpioRequest {
        guard bytes.count == size else { throw .wrongSize(bytes.count) }
        let rawType = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        let line = Int(UInt16(bytes[2]) | UInt16(bytes[3]) << 8)
        let value = UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24
        guard let type = GpioMessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        if type == .getLineNames { return .getLineNames }
        guard line < lineCount else { throw .noSuchLine(line, lineCount: lineCount) }
        switch type {
        case .getLineNames: return .getLineNames
        case .getDirection: return .getDirection(line: line)
        case .getValue: return .getValue(line: line)
        case .setDirection:
            guard value <= UInt32(UInt8.max), let direction = GpioDirection(rawValue: UInt8(value)) else {
                throw .badDirection(value)
            }
            return .setDirection(line: line, direction)
        case .setValue:
            guard value <= 1 else { throw .badValue(value) }
            return .setValue(line: line, value == 1)
        case .setIRQType:
            guard irq else { throw .irqNotNegotiated }
            guard let trigger = GpioTrigger(rawValue: value) else { throw .badTrigger(value) }
            return .setIRQType(line: line, trigger)
        }
    }

    /// The response's size in the device-writable part: status and value, or status and the
    /// names block for GET_LINE_NAMES (§5.17.6.1: `virtio_gpio_response_N`).
    public func responseSize(namesSize: Int) -> Int {
        if case .getLineNames = self { return 1 + namesSize }
        return Self.responseSize
    }
}

/// Why a request gets VIRTIO_GPIO_STATUS_ERR.
public enum GpioRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongSize(Int)
    case responseTooSmall(Int, needed: Int)
    case unknownType(UInt16)
    case noSuchLine(Int, lineCount: Int)
    case badDirection(UInt32)
    case badValue(UInt32)
    case badTrigger(UInt32)
    case irqNotNegotiated
    /// The line is shared read-only with this VM: it may not drive it.
    case readOnly(line: Int)
    /// §5.17.6.1: no interrupt on a line configured for output.
    case irqOnOutput(line: Int)
    /// The host refused (a chip line busy, an ioctl failing).
    case host(String)

    public var description: String {
        switch self {
        case let .wrongSize(n): "a request is \(GpioRequest.size) device-readable bytes, not \(n)"
        case let .responseTooSmall(n, needed): "the response buffer has \(n) writable bytes, \(needed) needed"
        case let .unknownType(t): "unknown message type \(t)"
        case let .noSuchLine(l, count): "line \(l) does not exist (the device has \(count))"
        case let .badDirection(v): "direction \(v) is not 0 (none), 1 (output) or 2 (input)"
        case let .badValue(v): "value \(v) is not 0 or 1"
        case let .badTrigger(v): "interrupt type \(v) is not one of 0, 1, 2, 3, 4, 8"
        case .irqNotNegotiated: "SET_IRQ_TYPE without VIRTIO_GPIO_F_IRQ"
        case let .readOnly(l): "line \(l) is read-only for this VM"
        case let .irqOnOutput(l): "line \(l) is an output; it has no interrupt"
        case let .host(reason): "the host line refused: \(reason)"
        }
    }
}

/// One `struct virtio_gpio_irq_request` on the eventq (§5.17.7: le16 gpio) with its
/// one-byte `virtio_gpio_irq_response`.
public enum GpioIRQRequest {
    public static let size = 2
    public static let responseSize = 1

    /// The line whose interrupt the buffer unmasks.
    public static func parse(_ bytes: [UInt8], writable: Int, lineCount: Int) throws(GpioRequestError) -> Int {
        guard bytes.count == size else { throw .wrongSize(bytes.count) }
        guard writable >= responseSize else { throw .responseTooSmall(writable, needed: responseSize) }
        let line = Int(UInt16(bytes[0]) | UInt16(bytes[1]) << 8)
        guard line < lineCount else { throw .noSuchLine(line, lineCount: lineCount) }
        return line
    }
}
