import ArgumentParser
import Devices
import VhostUser

struct ServeConsole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ConsoleServeOptions.command,
        abstract: "Host side of a VM's text console (AVPS-v2.0-47): log file plus attachable socket.",
        discussion: """
            The guest's virtio console port 0 (hvc0) is QEMU's virtconsole on a virtio-serial device whose chardev connects to --socket:
              -device virtio-serial-pci,id=vs0
              -chardev socket,id=hvc0,path=SOCKET
              -device virtconsole,chardev=hvc0,nr=0,bus=vs0.0

            Everything the guest writes is appended to --log; `avp console` (or socat) attaches to --attach.
            """)

    @OptionGroup var options: ConsoleServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("console", logging: logging, sandbox: activeSandbox) { logger in
            let hub = try ConsoleHub(guestSocket: options.socket, attachSocket: options.attach, logPath: options.log, logger: logger)
            try hub.start()
            let device = try options.vhostUser.map { path in
                try VhostUserServer(socketPath: path, device: ConsoleDevice(hostSocket: options.socket, logger: logger), logger: logger)
            }
            logger.info("console: guest on \(options.socket), clients on \(options.attach), log \(options.log)")
            return .init(servers: device.map { [$0] } ?? []) { hub.stop() }
        }
    }
}
