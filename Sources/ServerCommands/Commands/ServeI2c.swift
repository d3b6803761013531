import ArgumentParser
import Devices
import Logging
import VhostUser

struct ServeI2c: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: I2cServeOptions.command,
        abstract: "virtio-i2c back end (VIRTIO 1.2 §5.16): each VM's I2C adapter with its own targets, emulated or passed through from the host.",
        discussion: """
            QEMU example:
              -chardev socket,id=i2c,path=PATH
              -device vhost-user-i2c-pci,chardev=i2c

            Guest RAM must be shared with the server (memory-backend-memfd with share=on). The guest's kernel needs I2C_VIRTIO \
            (AVP's own guest kernel has it; Debian's does not). A VM reaches only the addresses of its targets: i2cdetect shows \
            exactly those, and any other address answers with an error, as an empty address of a real bus does.
              avp serve i2c --socket /tmp/i2c.sock --target eeprom@0x50:board.eeprom \\
                --target temperature@0x48:21.5 --control /tmp/i2c-control.sock
            eeprom@ADDRESS[:FILE] is a 24C02 (256 bytes, 8-byte pages) kept in FILE, written durably (created erased, all 0xFF, \
            when missing; without FILE, in memory only). temperature@ADDRESS[:CELSIUS] is an LM75-style sensor: register 0 holds \
            the temperature in 0.5 °C steps, a 9-bit two's complement value in bits 15-7, most significant byte first \
            (i2cget's word read shows it byte-swapped: 21.5 °C reads 0x8015); the host changes it with avp i2c or the control \
            socket. host@ADDRESS:/dev/i2c-N passes that address of a host adapter through with I2C_RDWR: a write-then-read stays \
            one transaction with a repeated START. Messages are at most 4096 bytes and transfers at most 42 messages.
            """)

    @OptionGroup var options: I2cServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("i2c", logging: logging, sandbox: activeSandbox) { logger in
            var served: [I2cControlServer.Served] = []
            var servers: [VhostUserServer] = []
            for (name, endpoint, targets) in options.servedVMs {
                let vm = try I2cVM(name: name, targets: targets, logger: logger)
                let device = I2cDevice(bus: vm.bus, logger: logger)
                served.append(.init(vm: vm, targets: targets, device: device))
                servers.append(try VhostUserServer(endpoint: endpoint, device: device, logger: logger))
                logger.info("i2c: VM '\(name)': \(targets.isEmpty ? "no targets" : targets.map(\.description).joined(separator: ", "))")
            }
            let control = try options.control.map { try I2cControlServer(path: $0, served: served, logger: logger) }
            return .init(servers: servers) {
                control?.stop()
                for one in served {
                    let s = one.device.statistics
                    logger.info("statistics: vm=\(one.vm.name) transactions=\(s.transactions) succeeded=\(s.succeeded) failed=\(s.failed) refused=\(s.refused)")
                }
            }
        }
    }
}
