/// Where a sensor's value comes from, on the host: a simulated vehicle signal
/// (`ScmiSignals`, a CSV time series or a value the host sets) or a host hwmon/IIO file
/// (`ScmiHostSensorFile`). The server reads a source when a guest asks (SENSOR_READING_GET) and
/// at each continuous-update period; a source must answer quickly and may be read from any thread.
public protocol ScmiSensorSource: AnyObject, Sendable {
    /// Where the value is read, for logs and `avp scmi get`: "signal speed", "/sys/class/hwmon/hwmon0/temp1_input".
    var origin: String { get }
    /// The value now, in the sensor's unit (degrees Celsius, volts, m/s, ...).
    func read() throws(ScmiSourceError) -> Double
}

/// DEN0056 §4.7.2.4 table 19 (sensor types) for the units AVP knows, and how the guest sees a value:
/// an integer in thousandths of the unit (sensor scale -3), which hwmon shows as it expects
/// (millidegrees, millivolts, milliamperes; microwatts after its own scale).
public enum ScmiSensorUnit: String, Sendable, CaseIterable, Codable {
    case celsius
    case volts
    case amperes
    case watts
    case rpm
    case kilopascals = "kpa"
    case metersPerSecond = "m/s"
    /// Three axes (x, y, z): an accelerometer, which Linux's scmi-iio makes an IIO device.
    case metersPerSecondSquared = "m/s2"
    /// Three axes (x, y, z): a gyroscope (scmi-iio).
    case radiansPerSecond = "rad/s"

    /// The SCMI sensor type (Linux's enum scmi_sensor_class).
    public var sensorType: UInt8 {
        switch self {
        case .celsius: 0x02
        case .volts: 0x05
        case .amperes: 0x06
        case .watts: 0x07
        case .kilopascals: 0x0F
        case .rpm: 0x13
        case .metersPerSecond: 0x5A
        case .metersPerSecondSquared: 0x59
        case .radiansPerSecond: 0x57
        }
    }

    /// Whether the sensor has three axes (DEN0056 §4.7.2.7), x, y and z, rather than one value.
    public var isThreeAxis: Bool { self == .metersPerSecondSquared || self == .radiansPerSecond }

    /// The axes' names as Linux's scmi-iio reads them (the letter after the last '_').
    public static let axisSuffixes = ["_x", "_y", "_z"]

    /// Power of ten of the reported integer (thousandths).
    public static let scale = -3
}

public enum ScmiSourceError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownSignal(String)
    case read(path: String, errno: Int32)
    case notANumber(path: String, text: String)
    case notFinite(origin: String)

    public var description: String {
        switch self {
        case let .unknownSignal(s): "no signal '\(s)'"
        case let .read(path, errno): "\(path): read failed: errno \(errno)"
        case let .notANumber(path, text): "\(path): \(UserTextLite.quoted(text)) is not a number"
        case let .notFinite(origin): "\(origin): the value is not finite"
        }
    }
}

/// Bounded quoting for messages about host text (a file's contents).
enum UserTextLite {
    static func quoted(_ s: String) -> String {
        let shown = s.count > 40 ? String(s.prefix(40)) + "…" : s
        return "'" + shown.filter { $0.isASCII && !$0.isNewline } + "'"
    }
}
