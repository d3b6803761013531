import Logging
import SystemCalls

/// The I2C server's control socket: the host reads each VM's targets and sets what its
/// temperature sensors read while the VMs run (`avp i2c`). A `LineControlServer` of
/// `I2cControlRequest` lines.
public final class I2cControlServer: @unchecked Sendable {
    /// Each VM's adapter and the device serving it (for its counters).
    public struct Served: Sendable {
        public var vm: I2cVM
        public var targets: [I2cTargetSpec]
        public var device: I2cDevice

        public init(vm: I2cVM, targets: [I2cTargetSpec], device: I2cDevice) {
            self.vm = vm
            self.targets = targets
            self.device = device
        }
    }

    private let served: [Served]
    private let logger: Logger
    /// Set once in `init`.
    private var server: LineControlServer?

    public init(path: String, served: [Served], logger: Logger) throws {
        self.served = served
        self.logger = logger
        server = try LineControlServer(path: path, threadName: "avp-i2c-control", maxLine: I2cControlRequest.maxLine,
                                       tooLong: I2cControlResponse.refused(reason: I2cControlError.lineTooLong.description).line) {
            [weak self] line in self?.answer(line).line ?? []
        }
    }

    public func stop() { server?.stop() }

    /// Carries out one request line.
    public func answer(_ line: [UInt8]) -> I2cControlResponse {
        do throws(I2cControlError) {
            switch try I2cControlRequest(line: line) {
            case .show: break
            case let .setTemperature(vm, address, celsius):
                guard let one = served.first(where: { $0.vm.name == vm }) else {
                    throw .unknownVM(vm, known: served.map(\.vm.name))
                }
                guard let a = I2cAddress(address & 0x7F), address < 0x80, let sensor = one.vm.sensors[a] else {
                    throw .noSensor(vm: vm, address: address, sensors: one.vm.sensors.keys.sorted().map(\.description))
                }
                guard sensor.setCelsius(celsius) else { throw .temperatureOutOfRange(celsius) }
                logger.notice("i2c: VM '\(vm)': sensor \(a) reads \(I2cTargetSpec.text(celsius: sensor.celsius)) °C, by the host's control socket")
            }
            return .status(status)
        } catch {
            return .refused(reason: error.description)
        }
    }

    /// Every VM's targets now.
    public var status: [I2cVMStatus] {
        served.map { one in
            let s = one.device.statistics
            return I2cVMStatus(name: one.vm.name, targets: one.targets.sorted { $0.address < $1.address }.map { spec in
                if case let .temperature(address, _) = spec, let sensor = one.vm.sensors[address] {
                    return .init(address: address.value, target: I2cTargetSpec.temperature(address, celsius: sensor.celsius).description,
                                 celsius: sensor.celsius)
                }
                return .init(address: spec.address.value, target: spec.description, celsius: nil)
            }, statistics: .init(succeeded: s.succeeded, failed: s.failed, refused: s.refused))
        }
    }
}
