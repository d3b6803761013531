import ArgumentParser
import Devices
import Platform
import ServerCommands

/// `avp i2c FILE`, `avp i2c FILE VM ADDRESS` and `avp i2c FILE VM ADDRESS --celsius C`: shows
/// each VM's I2C targets, prints what one sensor reads, or sets it, through the I2C server's
/// control socket.
struct I2cCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "i2c",
        abstract: "Show a running platform's I2C targets, or set the temperature a VM's sensor reads.",
        discussion: """
            Without arguments, prints each VM's targets (a sensor with the temperature it reads now) and its adapter's counters; \
            with a VM and a sensor's address, prints what that sensor reads (°C). --celsius sets what the sensor at ADDRESS of VM reads, in 0.5 °C steps (-55 to 125), and prints the value it now reads; \
            it lasts until the I2C server restarts, the platform file holding the temperature it starts with. Guests cannot \
            change it: only the host user reaches the control socket in the state directory.
              avp i2c cockpit.yaml
              avp i2c cockpit.yaml ivi 0x48
              avp i2c cockpit.yaml ivi 0x48 --celsius 30.5
            """)

    @OptionGroup var platformFile: PlatformFileArgument
    @Argument(help: "The VM whose sensor to set.") var vm: String?
    @Argument(help: "The sensor's address, e.g. 0x48.", transform: I2cCommand.address) var address: I2cAddress?
    @Option(parsing: .unconditional, help: ArgumentHelp("The temperature the sensor reads from now on, in °C.", valueName: "celsius"),
            transform: I2cCommand.celsius)
    var celsius: Double?

    func validate() throws {
        switch (vm, address, celsius) {
        case (nil, nil, nil), (_?, _?, _): break
        case (_, _, _?): throw ValidationError("--celsius needs the VM and the sensor's address: avp i2c FILE VM 0x48 --celsius 21.5")
        default: throw ValidationError("give the sensor's address too: avp i2c FILE VM ADDRESS [--celsius C]")
        }
    }

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        guard platform.vms.contains(where: { vm in vm.devices.contains { $0.kind == .i2c } }) else {
            throw CommandFailure("no VM of \(platformFile.file) has an I2C adapter ('- type: i2c')")
        }
        let client = try ControlSocketClient(path: StateDirectory.default(for: platform).i2cControlSocket, server: "the I2C server",
                                             file: platformFile.file)
        let request: I2cControlRequest
        if let vm, let address, let celsius {
            request = .setTemperature(vm: vm, address: address.value, celsius: celsius)
        } else {
            request = .show
        }
        switch try I2cControlResponse(line: try client.ask(request.line)) {
        case let .status(vms):
            guard let vm, let address else {
                print(Self.table(vms), terminator: "")
                return
            }
            guard let one = vms.first(where: { $0.name == vm }) else {
                throw CommandFailure("no VM '\(vm)' has an I2C adapter here; VMs: \(vms.map(\.name).joined(separator: ", "))")
            }
            guard let celsius = one.targets.first(where: { $0.address == address.value })?.celsius else {
                throw CommandFailure("VM '\(vm)' has no temperature sensor at \(address)")
            }
            print(I2cTargetSpec.text(celsius: celsius))
        case let .refused(reason): throw CommandFailure(reason)
        }
    }

    static func address(_ text: String) throws -> I2cAddress {
        guard let address = I2cAddress(parsing: text), address.isAssignable else {
            throw ValidationError("address \(UserText.quoted(text)): a 7-bit address from 0x08 to 0x77, e.g. 0x48")
        }
        return address
    }

    static func celsius(_ text: String) throws -> Double {
        guard let value = I2cTargetSpec.celsius(text) else {
            throw ValidationError("temperature \(UserText.quoted(text)): a number of °C from -55 to 125, e.g. 21.5")
        }
        return value
    }

    static func table(_ vms: [I2cVMStatus]) -> String {
        var text = ""
        for vm in vms {
            let s = vm.statistics
            text += "\(vm.name): \(s.succeeded) messages, \(s.failed) failed, \(s.refused) refused\n"
            for t in vm.targets {
                text += "  " + t.target + (t.celsius.map { "  (\(I2cTargetSpec.text(celsius: $0)) °C)" } ?? "") + "\n"
            }
        }
        return text
    }
}
