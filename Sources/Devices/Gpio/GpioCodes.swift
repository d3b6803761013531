/// virtio-gpio's numbers (VIRTIO 1.2 §5.17; Linux's include/uapi/linux/virtio_gpio.h).
public enum GpioCodes {
    /// §5.17.3: the device supports interrupts on its lines (and the eventq).
    public static let featureIRQ = 0
    public static let requestQueue = 0
    public static let eventQueue = 1
}

/// §5.17.6: the message types of `struct virtio_gpio_request`.
public enum GpioMessageType: UInt16, Sendable, CaseIterable {
    case getLineNames = 0x0001
    case getDirection = 0x0002
    case setDirection = 0x0003
    case getValue = 0x0004
    case setValue = 0x0005
    case setIRQType = 0x0006
}

/// §5.17.6: `virtio_gpio_response.status`.
public enum GpioStatus: UInt8, Sendable {
    case ok = 0
    case error = 1
}

/// §5.17.6: a line's direction as GET/SET_DIRECTION carry it.
public enum GpioDirection: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The line is not in use (SET_DIRECTION none releases it).
    case none = 0
    case output = 1
    case input = 2

    public var description: String {
        switch self {
        case .none: "none"
        case .output: "output"
        case .input: "input"
        }
    }
}

/// §5.17.6.1: a line's interrupt trigger (SET_IRQ_TYPE's value).
public enum GpioTrigger: UInt32, Sendable, CaseIterable {
    case none = 0x00
    case edgeRising = 0x01
    case edgeFalling = 0x02
    case edgeBoth = 0x03
    case levelHigh = 0x04
    case levelLow = 0x08

    /// Edge triggers latch a transition while masked; level triggers never latch (§5.17.6.1).
    public var isEdge: Bool { self == .edgeRising || self == .edgeFalling || self == .edgeBoth }
    public var isLevel: Bool { self == .levelHigh || self == .levelLow }

    /// Whether a transition to `value` is an edge this trigger fires on.
    public func fires(onEdgeTo value: Bool) -> Bool {
        switch self {
        case .edgeRising: value
        case .edgeFalling: !value
        case .edgeBoth: true
        case .none, .levelHigh, .levelLow: false
        }
    }

    /// Whether the level `value` is the active one of a level trigger.
    public func active(atLevel value: Bool) -> Bool {
        switch self {
        case .levelHigh: value
        case .levelLow: !value
        case .none, .edgeRising, .edgeFalling, .edgeBoth: false
        }
    }
}

/// §5.17.7: `virtio_gpio_irq_response.status`.
public enum GpioIRQStatus: UInt8, Sendable {
    /// The buffer comes back unused: the interrupt is disabled (or was never enabled).
    case invalid = 0
    /// The interrupt fired.
    case valid = 1
}
