/// One VM's configuration of one sensor (DEN0056 §4.7.2.12 SENSOR_CONFIG_SET) and its continuous
/// update notifications (§4.7.2.13): enabled, timestamps, update interval, and when the next
/// SENSOR_UPDATE is due.
struct ScmiSensorConfig: Sendable, Equatable {
    /// The interval a sensor starts with.
    static let defaultIntervalNanoseconds: UInt64 = 1_000_000_000
    /// The shortest and longest interval AVP keeps (LIST_UPDATE_INTERVALS' segment).
    static let minimumIntervalNanoseconds: UInt64 = 10_000_000
    static let maximumIntervalNanoseconds: UInt64 = 60_000_000_000

    var enabled = true
    var timestamps = true
    var intervalNanoseconds = defaultIntervalNanoseconds
    var notify = false
    /// When the next SENSOR_UPDATE is due (monotonic nanoseconds), while notifying.
    var due: UInt64 = 0

    /// §4.7.2.12 sensor_config: bits 31:16 update interval (seconds, mantissa), 15:11 its power
    /// of ten (signed), 10:9 rounding, 1 timestamp reporting, 0 sensor enabled.
    var word: UInt32 {
        let (mantissa, exponent) = Self.encode(intervalNanoseconds)
        return mantissa << 16 | UInt32(UInt8(bitPattern: exponent) & 0x1F) << 11 | (timestamps ? 2 : 0) | (enabled ? 1 : 0)
    }

    /// Applies a CONFIG_SET word; an interval of 0 seconds keeps the current one (Linux's scmi-iio
    /// enables a sensor with 0 after setting its interval), one outside AVP's range is
    /// OUT_OF_RANGE, a rounding of 3 (reserved) INVALID_PARAMETERS.
    mutating func apply(_ word: UInt32) throws(ScmiStatusError) {
        let mantissa = word >> 16
        let rawExponent = Int8(truncatingIfNeeded: UInt8((word >> 11) & 0x1F) << 3) >> 3
        let rounding = (word >> 9) & 0x3
        guard rounding != 3 else { throw ScmiStatusError(.invalidParameters, "rounding mode 3 is reserved") }
        var interval = intervalNanoseconds
        if mantissa != 0 {
            let seconds = Double(mantissa) * pow10(Int(rawExponent))
            let ns = seconds * 1e9
            guard ns >= Double(Self.minimumIntervalNanoseconds) - 0.5, ns <= Double(Self.maximumIntervalNanoseconds) else {
                throw ScmiStatusError(.outOfRange, "update interval \(mantissa)e\(rawExponent) s is outside 10 ms to 60 s")
            }
            interval = UInt64(ns.rounded())
        }
        intervalNanoseconds = interval
        timestamps = word & 2 != 0
        enabled = word & 1 != 0
    }

    /// An interval as seconds mantissa (16 bits) and power of ten (-16 to 15).
    static func encode(_ nanoseconds: UInt64) -> (UInt32, Int8) {
        var mantissa = nanoseconds, exponent: Int8 = -9
        while mantissa > 0xFFFF || (mantissa % 10 == 0 && mantissa > 0 && exponent < 0) {
            mantissa /= 10
            exponent += 1
        }
        return (UInt32(mantissa), exponent)
    }

    /// §4.7.2.7 SENSOR_LIST_UPDATE_INTERVALS: one interval, bits 20:5 seconds, 4:0 power of ten.
    static func interval(seconds: UInt32, exponent: Int8) -> UInt32 { (seconds & 0xFFFF) << 5 | UInt32(UInt8(bitPattern: exponent) & 0x1F) }

    private func pow10(_ e: Int) -> Double {
        var r = 1.0
        for _ in 0..<abs(e) { r *= 10 }
        return e < 0 ? 1 / r : r
    }
}
