/// What a virtio-input device tells its driver about itself through configuration space
/// (VIRTIO 1.2 §5.8.4): name, serial, IDs, properties, the event codes it sends and the
/// range of each absolute axis. Pure data; `payload` answers one select/subsel query.
public struct InputDeviceDescription: Sendable, Equatable {
    /// `struct virtio_input_devids`.
    public struct Identity: Sendable, Equatable {
        public var bus: UInt16
        public var vendor: UInt16
        public var product: UInt16
        public var version: UInt16

        public init(bus: UInt16, vendor: UInt16, product: UInt16, version: UInt16) {
            self.bus = bus
            self.vendor = vendor
            self.product = product
            self.version = version
        }
    }

    /// `struct virtio_input_absinfo`: an absolute axis' range (min and max inclusive).
    public struct AxisRange: Sendable, Equatable {
        public var minimum: Int32
        public var maximum: Int32
        public var fuzz: Int32 = 0
        public var flat: Int32 = 0
        /// Units per millimetre (0: unknown).
        public var resolution: Int32 = 0

        public init(minimum: Int32, maximum: Int32) {
            self.minimum = minimum
            self.maximum = maximum
        }
    }

    /// Longest name or serial given to the driver: Linux keeps 64 bytes with their NUL.
    public static let maxTextBytes = 63

    public var name: String
    public var serial: String
    public var identity: Identity
    /// INPUT_PROP_* bits.
    public var properties: [UInt16]
    /// Event type → the codes of that type the device sends (EV_BITS, one query per type).
    public var events: [UInt16: [UInt16]]
    /// Absolute axis → its range (ABS_INFO, one query per axis).
    public var axes: [UInt16: AxisRange]

    public init(name: String, serial: String, identity: Identity, properties: [UInt16], events: [UInt16: [UInt16]],
                axes: [UInt16: AxisRange]) {
        self.name = name
        self.serial = serial
        self.identity = identity
        self.properties = properties
        self.events = events
        self.axes = axes
    }

    /// The bytes of the configuration union for `select`/`subsel`, at most 128; empty when the
    /// device has nothing for the combination (the driver then reads `size` 0, §5.8.5.1).
    public func payload(select: UInt8, subsel: UInt8) -> [UInt8] {
        switch InputConfigSelect(rawValue: select) {
        case .name? where subsel == 0: return Self.text(name)
        case .serial? where subsel == 0: return Self.text(serial)
        case .deviceIDs? where subsel == 0:
            return [identity.bus, identity.vendor, identity.product, identity.version].flatMap(Self.le16)
        case .propertyBits? where subsel == 0: return Self.bitmap(properties)
        case .eventBits?: return Self.bitmap(events[UInt16(subsel)] ?? [])
        case .axisInfo?:
            guard let a = axes[UInt16(subsel)] else { return [] }
            return [a.minimum, a.maximum, a.fuzz, a.flat, a.resolution].flatMap { Self.le32(UInt32(bitPattern: $0)) }
        default: return []
        }
    }

    /// UTF-8 without a terminating NUL (`size` gives the length), cut to `maxTextBytes`.
    static func text(_ s: String) -> [UInt8] { Array(s.utf8.prefix(maxTextBytes)) }

    /// Bit n is bit n % 8 of byte n / 8 (§5.8.4); as many bytes as the highest code needs.
    static func bitmap(_ codes: [UInt16]) -> [UInt8] {
        let valid = codes.filter { $0 < InputCode.codeLimit }
        guard let highest = valid.max() else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(highest) / 8 + 1)
        for code in valid { bytes[Int(code) / 8] |= 1 << (code % 8) }
        return bytes
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
}

/// `select` values of `struct virtio_input_config` (VIRTIO 1.2 §5.8.4).
public enum InputConfigSelect: UInt8, Sendable {
    case unset = 0x00
    case name = 0x01
    case serial = 0x02
    case deviceIDs = 0x03
    case propertyBits = 0x10
    case eventBits = 0x11
    case axisInfo = 0x12
}
