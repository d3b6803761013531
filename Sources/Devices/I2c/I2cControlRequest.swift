/// What the host asks the I2C server's control socket (`avp i2c`): every VM's targets and the
/// temperatures its sensors read, or a new temperature for one sensor. Guests have no path here:
/// the socket is in the platform's private state directory. A temperature set lasts until the
/// server restarts; the platform file (`temperature@ADDRESS:CELSIUS`) is what it starts with.
///
/// One JSON object per line each way (`JSONLine`), at most `maxLine` bytes.
public enum I2cControlRequest: Codable, Sendable, Equatable {
    case show
    case setTemperature(vm: String, address: UInt8, celsius: Double)

    public static let maxLine = 1024

    public init(line: [UInt8]) throws(I2cControlError) {
        guard line.count <= Self.maxLine else { throw .lineTooLong }
        guard let request = JSONLine.decode(Self.self, from: line, maxLine: Self.maxLine) else { throw .malformedRequest }
        self = request
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// The answer: every VM's targets after the request, or why it was refused.
public enum I2cControlResponse: Codable, Sendable, Equatable {
    case status([I2cVMStatus])
    case refused(reason: String)

    public init(line: [UInt8]) throws(I2cControlError) {
        guard let response = JSONLine.decode(Self.self, from: line, maxLine: 1 << 20) else { throw .malformedResponse }
        self = response
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// One VM's adapter as the control socket shows it.
public struct I2cVMStatus: Codable, Sendable, Equatable {
    public struct Target: Codable, Sendable, Equatable {
        public var address: UInt8
        /// The target as `I2cTargetSpec` writes it (its temperature now, for a sensor).
        public var target: String
        /// A sensor's temperature now, in °C.
        public var celsius: Double?

        public init(address: UInt8, target: String, celsius: Double?) {
            self.address = address
            self.target = target
            self.celsius = celsius
        }
    }
    public var name: String
    public var targets: [Target]
    public var statistics: Statistics

    public struct Statistics: Codable, Sendable, Equatable {
        public var succeeded: Int
        public var failed: Int
        public var refused: Int
    }

    public init(name: String, targets: [Target], statistics: Statistics) {
        self.name = name
        self.targets = targets
        self.statistics = statistics
    }
}

public enum I2cControlError: Error, Sendable, Equatable, CustomStringConvertible {
    case lineTooLong
    case malformedRequest
    case malformedResponse
    case unknownVM(String, known: [String])
    case noSensor(vm: String, address: UInt8, sensors: [String])
    case temperatureOutOfRange(Double)

    public var description: String {
        switch self {
        case .lineTooLong: "a control request is one line of at most \(I2cControlRequest.maxLine) bytes"
        case .malformedRequest: "the control request is not an I2C request (JSON: show or setTemperature)"
        case .malformedResponse: "the I2C server's answer is not an I2C control response"
        case let .unknownVM(vm, known): "no VM '\(vm.prefix(40))' has an I2C adapter here; VMs: \(known.joined(separator: ", "))"
        case let .noSensor(vm, address, sensors):
            "VM '\(vm)' has no temperature sensor at \(I2cAddress(address & 0x7F).map(\.description) ?? String(address)); "
                + (sensors.isEmpty ? "it has none" : "its sensors: \(sensors.joined(separator: ", "))")
        case let .temperatureOutOfRange(c):
            "\(c.isFinite ? I2cTargetSpec.text(celsius: c) : "\(c)") °C is outside what the sensor reads "
                + "(\(Int(TemperatureSensor.range.lowerBound)) to \(Int(TemperatureSensor.range.upperBound)) °C)"
        }
    }
}
