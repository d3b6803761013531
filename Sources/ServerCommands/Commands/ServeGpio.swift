import ArgumentParser
import Devices
import VhostUser

struct ServeGpio: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: GpioServeOptions.command,
        abstract: "virtio-gpio back end (VIRTIO 1.2 §5.17): a GPIO block's named lines, simulated or a host chip, shared by VMs; AVPS-v2.0-37/38.",
        discussion: """
            QEMU example:
              -chardev socket,id=gpio,path=PATH
              -device vhost-user-gpio-pci,chardev=gpio

            Guest RAM must be shared with the server:
              -object memory-backend-memfd,id=mem,size=512M,share=on
              -machine memory-backend=mem

            Standalone (--socket or --connect), the VM owns every --line (lines 0, 1, … in the guest, with these names) and reads \
            every --read-only-line. For a platform, a --vm per VM names the lines it owns and those it only reads; it sees nothing \
            else of the block. Simulated lines start low and follow avp gpio set (--control); a guest's output drives the line \
            for every VM that sees it. With --chip, the lines are the chip's (GPIO v2 uAPI), found by name or NAME=OFFSET, and held \
            by the server while it runs.
            """)

    @OptionGroup var options: GpioServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("gpio", logging: logging, sandbox: activeSandbox) { logger in
            let provider: any GpioLineProvider
            if let chip = options.chip {
                provider = try GpioChipLines(path: chip, lines: options.blockLines.map(\.layoutEntry), logger: logger)
            } else {
                provider = SimulatedGpioLines(names: options.blockLines.map(\.name))
            }
            let block = try GpioBlock(provider: provider, logger: logger)
            var devices: [GpioDevice] = []
            var servers: [VhostUserServer] = []
            for vm in options.servedVMs {
                let map = try GpioLineMap(block: block, owned: vm.lines, readOnly: vm.readOnly)
                let device = try GpioDevice(vm: vm.name, map: map, block: block, logger: logger)
                devices.append(device)
                servers.append(try VhostUserServer(endpoint: vm.endpoint, device: device, logger: logger))
                logger.info("gpio: VM '\(vm.name)': lines \(map.lines.enumerated().map { "\($0.offset) \($0.element.name)\($0.element.readOnly ? " (read-only)" : "")" }.joined(separator: ", "))")
            }
            let control = try options.control.map { try GpioControlServer(path: $0, block: block, logger: logger) }
            logger.info("gpio: block of \(provider.lineNames.count) lines, \(provider.source)")
            return .init(servers: servers) {
                control?.stop()
                block.stop()
                for device in devices {
                    let s = device.statistics
                    logger.info("statistics: vm=\(device.vm) requests=\(s.requests) refused-requests=\(s.errors) interrupts=\(s.interrupts)")
                }
            }
        }
    }
}
