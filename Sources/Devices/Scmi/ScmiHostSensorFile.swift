#if canImport(Glibc)
import Glibc
#endif

/// A host sensor passed through: a hwmon attribute (`/sys/class/hwmon/hwmonN/temp1_input`,
/// `in0_input`, `curr1_input`, `power1_input`) or an IIO channel (`/sys/bus/iio/devices/
/// iio:deviceN/in_temp_raw`, whose `_scale` and `_offset` files apply when present). The file is
/// read at each reading; hwmon's and IIO's milli-units (millidegrees, millivolts, milliamperes)
/// and hwmon's microwatts become the sensor's unit.
public final class ScmiHostSensorFile: ScmiSensorSource {
    public let path: String
    /// Multiplies the file's number into the sensor's unit.
    private let factor: Double
    private let scalePath: String?
    private let offsetPath: String?

    public init(path: String) throws(ScmiSourceError) {
        self.path = path
        let file = path.split(separator: "/").last.map(String.init) ?? path
        if file.hasSuffix("_raw") {
            let stem = String(path.dropLast(4))
            // IIO: in_temp_raw with in_temp_scale, or the type's shared scale (in_voltage0_raw → in_voltage_scale).
            let shared = String(stem.reversed().drop(while: { $0.isNumber }).reversed())
            scalePath = [stem + "_scale", shared + "_scale"].first(where: Self.exists)
            offsetPath = [stem + "_offset", shared + "_offset"].first(where: Self.exists)
            factor = file.hasPrefix("in_temp") || file.hasPrefix("in_voltage") || file.hasPrefix("in_current") ? 1e-3 : 1
        } else {
            scalePath = nil
            offsetPath = nil
            factor = file.hasPrefix("power") || file.hasPrefix("energy") ? 1e-6 : (file.hasPrefix("fan") ? 1 : 1e-3)
        }
        _ = try Self.number(at: path)
    }

    public var origin: String { path }

    public func read() throws(ScmiSourceError) -> Double {
        var value = try Self.number(at: path)
        if let offsetPath { value += try Self.number(at: offsetPath) }
        if let scalePath { value *= try Self.number(at: scalePath) }
        let result = value * factor
        guard result.isFinite else { throw .notFinite(origin: path) }
        return result
    }

    private static func exists(_ path: String) -> Bool { access(path, R_OK) == 0 }

    /// The number a sysfs attribute holds (at most 64 bytes read).
    static func number(at path: String) throws(ScmiSourceError) -> Double {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .read(path: path, errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 64) }
        guard n >= 0 else { throw .read(path: path, errno: errno) }
        let text = String(decoding: buffer.prefix(n), as: UTF8.self).filter { !$0.isWhitespace }
        guard let v = Double(text), v.isFinite else { throw .notANumber(path: path, text: text) }
        return v
    }
}
