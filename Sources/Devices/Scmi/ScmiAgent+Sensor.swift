/// Sensor management protocol 3.0 (DEN0056 §4.7) for one VM's sensors: scalar sensors and
/// three-axis ones (accelerometers, gyroscopes: Linux's scmi-iio), read synchronously, timestamped in nanoseconds, with continuous update notifications at each
/// sensor's configured interval. No trip points: TRIP_POINT_* answer NOT_SUPPORTED.
extension ScmiAgent {
    /// §4.7.2.5 descriptor size without extended attributes.
    static let sensorDescriptorSize = 28
    /// §4.7.3.2 SENSOR_UPDATE.
    static let sensorUpdateEvent: UInt8 = 0x1
    /// Timestamps are monotonic nanoseconds: power of ten -9.
    static let timestampExponent: Int8 = -9

    func sensor(_ id: UInt8, _ reader: inout ScmiPayloadReader, capacity: Int, now: UInt64) throws(ScmiStatusError) -> ScmiPayloadWriter {
        var out = ScmiPayloadWriter()
        switch id {
        case ScmiCommonMessage.protocolAttributes:
            // §4.7.2.4: number of sensors, max pending asynchronous commands (none), no shared-memory register.
            out.u16(UInt16(view.sensors.count))
            out.u8(0)
            out.u8(0)
            out.u32(0)
            out.u32(0)
            out.u32(0)
        case 0x3:
            // §4.7.2.5 SENSOR_DESCRIPTION_GET: descriptors from desc_index, as many as fit.
            let page = try ScmiPage(from: try reader.u32(), of: view.sensors.count, capacity: capacity,
                                    entrySize: Self.sensorDescriptorSize, beyondEnd: .invalidParameters, what: "sensor descriptor")
            out.pageCounts(page)
            for local in page.entries {
                let sensor = host.topology.sensors[view.sensors[local]]
                out.u32(UInt32(local))
                // attributes_low: bit 30 continuous update notifications, 14:10 timestamp exponent,
                // bit 9 timestamps, bit 8 no extended attributes, 7:0 no trip points; bit 31 0: synchronous reads.
                out.u32(1 << 30 | UInt32(UInt8(bitPattern: Self.timestampExponent) & 0x1F) << 10 | 1 << 9)
                // attributes_high: 21:16 number of axes and bit 8 axes supported (three-axis sensors),
                // 15:11 scale (thousandths), 7:0 type.
                let axes = sensor.axisCount > 0 ? UInt32(sensor.axisCount) << 16 | 1 << 8 : 0
                out.u32(axes | Self.scaleBits | UInt32(sensor.unit.sensorType))
                out.name(sensor.name)
            }
        case 0x6:
            // §4.7.2.6 SENSOR_READING_GET: synchronous only; v3 reading: value and timestamp, 64 bits each.
            let local = try reader.u32()
            let flags = try reader.u32()
            let index = try item(local, of: view.sensors, "sensor")
            guard flags & 1 == 0 else { throw ScmiStatusError(.notSupported, "asynchronous reads are not supported") }
            out.append(try reading(local: Int(local), host: index, now: now))
        case 0x8:
            // §4.7.2.7 SENSOR_LIST_UPDATE_INTERVALS: one segment, 10 ms to 60 s in steps of 10 ms.
            let local = try reader.u32()
            let index = try reader.u32()
            _ = try item(local, of: view.sensors, "sensor")
            guard index == 0 else { throw ScmiStatusError(.outOfRange, "interval index \(index) of a 3-entry segment") }
            out.u32(3 | 1 << 12)
            out.u32(ScmiSensorConfig.interval(seconds: 1, exponent: -2))
            out.u32(ScmiSensorConfig.interval(seconds: 60, exponent: 0))
            out.u32(ScmiSensorConfig.interval(seconds: 1, exponent: -2))
        case 0x9:
            let local = try reader.u32()
            _ = try item(local, of: view.sensors, "sensor")
            out.u32(sensorConfigs[Int(local)].word)
        case 0xA:
            let local = try reader.u32()
            let word = try reader.u32()
            _ = try item(local, of: view.sensors, "sensor")
            try sensorConfigs[Int(local)].apply(word)
            if sensorConfigs[Int(local)].notify { sensorConfigs[Int(local)].due = now &+ sensorConfigs[Int(local)].intervalNanoseconds }
        case 0xB:
            // §4.7.2.13 SENSOR_CONTINUOUS_UPDATE_NOTIFY: bit 0 of notify_enable.
            let local = try reader.u32()
            let enable = try reader.u32()
            _ = try item(local, of: view.sensors, "sensor")
            guard enable & ~1 == 0 else { throw ScmiStatusError(.invalidParameters, "notify_enable 0x\(String(enable, radix: 16))") }
            sensorConfigs[Int(local)].notify = enable == 1
            sensorConfigs[Int(local)].due = now &+ sensorConfigs[Int(local)].intervalNanoseconds
        case 0x4, 0x5:
            throw ScmiStatusError(.notSupported, "sensors have no trip points")
        case 0x7:
            // §4.7.2.7 SENSOR_AXIS_DESCRIPTION_GET: axes from axis_desc_index, as many as fit.
            let local = try reader.u32()
            let start = try reader.u32()
            let sensor = host.topology.sensors[try item(local, of: view.sensors, "sensor")]
            guard sensor.axisCount > 0 else { throw ScmiStatusError(.notSupported, "sensor \(local) has no axes") }
            let page = try ScmiPage(from: start, of: sensor.axisCount, capacity: capacity,
                                    entrySize: Self.sensorDescriptorSize, beyondEnd: .invalidParameters, what: "axis descriptor")
            // num_axis_flags: bits 5:0 returned, 31:26 remaining.
            out.u32(UInt32(page.entries.count) | UInt32(page.remaining) << 26)
            for axis in page.entries {
                out.u32(UInt32(axis))
                out.u32(0)   // attributes_low: no extended attributes
                out.u32(Self.scaleBits | UInt32(sensor.unit.sensorType))
                // Linux's scmi-iio takes the axis from the letter after the last '_'.
                out.name(String(sensor.name.prefix(ScmiCodes.shortNameSize - 3)) + ScmiSensorUnit.axisSuffixes[axis % 3].uppercased())
            }
        default:
            throw ScmiStatusError(.notSupported, "sensor message 0x\(String(id, radix: 16))")
        }
        return out
    }

    /// attributes_high bits 15:11: the power of ten of every value (thousandths).
    static var scaleBits: UInt32 { UInt32(UInt8(bitPattern: Int8(ScmiSensorUnit.scale)) & 0x1F) << 11 }

    /// v3 readings (§4.7.2.6), one per axis (one for a scalar sensor): the value in thousandths
    /// of the unit and, if reported, the timestamp.
    func reading(local: Int, host index: Int, now: UInt64) throws(ScmiStatusError) -> [UInt8] {
        guard let values = host.readAll(sensor: index) else { throw ScmiStatusError(.hardwareError, "the sensor's source failed") }
        var out = ScmiPayloadWriter()
        for value in values {
            let scaled = (value * 1000).rounded()
            let integer = scaled >= 9.2e18 ? Int64.max : scaled <= -9.2e18 ? Int64.min : Int64(scaled)
            out.u64(UInt64(bitPattern: integer))
            out.u64(sensorConfigs[local].timestamps ? now : 0)
        }
        return out.bytes
    }

    /// Whether any sensor sends continuous updates (the device's ticker runs only then).
    public var notifying: Bool { sensorConfigs.contains { $0.notify && $0.enabled } }

    /// The SENSOR_UPDATE notifications due at `now` (§4.7.3.2: agent id, sensor id, one reading),
    /// each a whole message with its header; the next ones are scheduled an interval later.
    public func dueNotifications(now: UInt64) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        for local in sensorConfigs.indices where sensorConfigs[local].notify && sensorConfigs[local].enabled && sensorConfigs[local].due <= now {
            let interval = sensorConfigs[local].intervalNanoseconds
            let next = sensorConfigs[local].due &+ interval
            sensorConfigs[local].due = next > now ? next : now &+ interval
            guard let reading = try? reading(local: local, host: view.sensors[local], now: now) else { continue }
            var out = ScmiPayloadWriter()
            out.u32(ScmiMessageHeader(messageID: Self.sensorUpdateEvent, type: ScmiMessageType.notification.rawValue,
                                      protocolID: ScmiProtocolID.sensor.rawValue).raw)
            out.u32(Self.agentID)
            out.u32(UInt32(local))
            out.append(reading)
            messages.append(out.bytes)
        }
        return messages
    }
}
