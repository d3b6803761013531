import Logging
import SystemCalls

/// One VM's I2C adapter as a server builds it from its `I2cTargetSpec`s: the bus (its
/// allow-list and providers) and the sensors the host sets.
public struct I2cVM: Sendable {
    public var name: String
    public var bus: I2cBus
    public var sensors: [I2cAddress: TemperatureSensor]
    public var eeproms: [I2cAddress: Eeprom24C02]

    /// Opens EEPROM files and host adapters. Targets must have distinct addresses.
    public init(name: String, targets: [I2cTargetSpec], logger: Logger) throws(I2cVMError) {
        self.name = name
        var emulated: [I2cAddress: any I2cEmulatedTarget] = [:]
        var hostAddresses: [String: Set<I2cAddress>] = [:]
        var seen: Set<I2cAddress> = []
        sensors = [:]
        eeproms = [:]
        for target in targets {
            guard seen.insert(target.address).inserted else { throw .duplicateAddress(name, target.address) }
            switch target {
            case let .eeprom(address, file):
                do {
                    let eeprom = try Eeprom24C02(file: file.map(EepromFile.init(path:)))
                    eeproms[address] = eeprom
                    emulated[address] = eeprom
                } catch { throw .eeprom(name, error) }
            case let .temperature(address, celsius):
                guard let sensor = TemperatureSensor(celsius: celsius) else { throw .temperature(name, celsius) }
                sensors[address] = sensor
                emulated[address] = sensor
            case let .host(address, bus):
                hostAddresses[bus, default: []].insert(address)
            }
        }
        var providers: [I2cAddress: any I2cBusProvider] = [:]
        let emulation = EmulatedI2cTargets(emulated)
        for address in emulated.keys { providers[address] = emulation }
        for (path, addresses) in hostAddresses.sorted(by: { $0.key < $1.key }) {
            do {
                let host = try HostI2cBus(path: path, allowed: addresses, logger: logger)
                for address in addresses { providers[address] = host }
            } catch { throw .hostBus(name, path, error) }
        }
        bus = I2cBus(providers)
    }
}

public enum I2cVMError: Error, Sendable, CustomStringConvertible {
    case duplicateAddress(String, I2cAddress)
    case eeprom(String, EepromFileError)
    case temperature(String, Double)
    case hostBus(String, String, Errno)

    public var description: String {
        switch self {
        case let .duplicateAddress(vm, a): "VM '\(vm)': two targets at \(a)"
        case let .eeprom(vm, e): "VM '\(vm)': \(e)"
        case let .temperature(vm, c): "VM '\(vm)': \(c) °C is outside what the sensor reads"
        case let .hostBus(vm, path, e): "VM '\(vm)': host I2C adapter \(path): \(e)"
        }
    }
}
