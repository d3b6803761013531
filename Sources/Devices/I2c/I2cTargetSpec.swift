/// One target of a VM's I2C bus as the platform file (`targets:`) and `avp serve i2c --target`
/// write it: `KIND@ADDRESS[:VALUE]`.
/// - `eeprom@0x50[:FILE]`: a 24C02 EEPROM (`Eeprom24C02`) kept in FILE (without one: in memory only);
/// - `temperature@0x48[:CELSIUS]`: an LM75-style sensor (`TemperatureSensor`), default 25 °C;
/// - `host@0x1d:/dev/i2c-N`: the host adapter's target at that address (`HostI2cBus`).
/// ADDRESS is 0x08 to 0x77, hexadecimal with 0x or decimal.
public enum I2cTargetSpec: Sendable, Equatable, CustomStringConvertible {
    case eeprom(I2cAddress, file: String?)
    case temperature(I2cAddress, celsius: Double)
    case host(I2cAddress, bus: String)

    public static let defaultCelsius = 25.0
    /// Longest text taken (a path included).
    public static let maxText = 1024

    public var address: I2cAddress {
        switch self {
        case let .eeprom(a, _), let .temperature(a, _), let .host(a, _): a
        }
    }

    public init(parsing text: String) throws(I2cTargetSpecError) {
        guard text.utf8.count <= Self.maxText else { throw .tooLong }
        guard let at = text.firstIndex(of: "@") else { throw .syntax(text) }
        let kind = String(text[..<at])
        let rest = text[text.index(after: at)...]
        let addressText = String(rest.prefix { $0 != ":" })
        let value: String? = rest.firstIndex(of: ":").map { String(rest[rest.index(after: $0)...]) }
        guard let address = I2cAddress(parsing: addressText) else { throw .badAddress(addressText) }
        guard address.isAssignable else { throw .reservedAddress(address) }
        switch kind {
        case "eeprom":
            if let value, value.isEmpty { throw .emptyValue(kind) }
            self = .eeprom(address, file: value)
        case "temperature":
            guard let value else {
                self = .temperature(address, celsius: Self.defaultCelsius)
                return
            }
            guard let celsius = Self.celsius(value) else { throw .badTemperature(value) }
            self = .temperature(address, celsius: celsius)
        case "host":
            guard let value, value.hasPrefix("/") else { throw .hostBusPath(value ?? "") }
            self = .host(address, bus: value)
        default: throw .unknownKind(kind)
        }
    }

    /// A temperature as text: an optional '-', digits, at most one '.', within the sensor's range.
    public static func celsius(_ text: String) -> Double? {
        let body = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard (1...8).contains(body.utf8.count), body.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") }),
              body.utf8.filter({ $0 == UInt8(ascii: ".") }).count <= 1, let value = Double(text),
              TemperatureSensor.halfDegrees(value) != nil else { return nil }
        return value
    }

    /// "21.5", "25".
    public static func text(celsius: Double) -> String {
        celsius == celsius.rounded() ? String(Int(celsius)) : String(celsius)
    }

    public var description: String {
        switch self {
        case let .eeprom(a, file): "eeprom@\(a)" + (file.map { ":" + $0 } ?? "")
        case let .temperature(a, c): "temperature@\(a):\(Self.text(celsius: c))"
        case let .host(a, bus): "host@\(a):\(bus)"
        }
    }
}

public enum I2cTargetSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLong
    case syntax(String)
    case badAddress(String)
    case reservedAddress(I2cAddress)
    case unknownKind(String)
    case emptyValue(String)
    case badTemperature(String)
    case hostBusPath(String)

    public var description: String {
        let forms = "eeprom@ADDRESS[:FILE], temperature@ADDRESS[:CELSIUS] or host@ADDRESS:/dev/i2c-N"
        let range = "\(I2cAddress(I2cAddress.assignable.lowerBound)!) to \(I2cAddress(I2cAddress.assignable.upperBound)!)"
        switch self {
        case .tooLong: return "a target is at most \(I2cTargetSpec.maxText) bytes"
        case let .syntax(text): return "target '\(text.prefix(80))': write \(forms)"
        case let .badAddress(text): return "address '\(text.prefix(20))': write a 7-bit address such as 0x50, from \(range)"
        case let .reservedAddress(a): return "address \(a) is reserved by the I2C specification: use \(range)"
        case let .unknownKind(kind): return "unknown target kind '\(kind.prefix(20))': write \(forms)"
        case .emptyValue: return "eeprom@ADDRESS: FILE after ':' is empty (leave out ':' to keep the EEPROM in memory)"
        case let .badTemperature(text):
            return "temperature '\(text.prefix(20))': a number of °C from \(Int(TemperatureSensor.range.lowerBound)) to \(Int(TemperatureSensor.range.upperBound)), such as 21.5"
        case let .hostBusPath(text): return "host@ADDRESS:'\(text.prefix(80))': give the host adapter's absolute path, such as /dev/i2c-1"
        }
    }
}
