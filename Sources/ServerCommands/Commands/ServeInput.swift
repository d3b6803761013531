import ArgumentParser
import Devices
import VhostUser

struct ServeInput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: InputServeOptions.command,
        abstract: "virtio-input touchscreen back end (VIRTIO 1.2 §5.8): a multi-touch absolute pointer the host drives.",
        discussion: """
            QEMU example:
              -chardev socket,id=touch,path=PATH
              -device vhost-user-input-pci,chardev=touch

            Guest RAM must be shared with the server (memory-backend-memfd with share=on). The guest sees an input device with INPUT_PROP_DIRECT, BTN_TOUCH, BTN_LEFT, ABS_X/Y and the multi-touch axes (protocol B) over --size.

            The host writes touches to --events-socket, one per line, in the touchscreen's pixels:
              printf 'touch 100 50\\nmove 120 60\\nrelease\\n' | socat - UNIX-CONNECT:EVENTS
            """)

    @OptionGroup var options: InputServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("input", logging: logging, sandbox: activeSandbox) { logger in
            let screen = try Touchscreen(width: options.size.width, height: options.size.height, name: options.name, logger: logger)
            let server = try VhostUserServer(endpoint: options.endpoints.all[0], device: screen.device, logger: logger)
            let source = try options.eventsSocket.map { try TouchEventsSocket(path: $0, logger: logger) }
            try source?.start { screen.apply($0) }
            let from = options.eventsSocket.map { ", touches from \($0)" } ?? ""
            logger.info("input: touchscreen '\(options.name)' of \(options.size)\(from)")
            return .init(servers: [server]) {
                source?.stop()
                let s = screen.device.statistics
                let ignored = source?.ignoredLines ?? 0
                logger.info("statistics: events=\(s.eventsDelivered) frames=\(s.framesQueued) dropped=\(s.framesDropped) without-driver=\(s.framesWithoutDriver) status=\(s.statusEvents) refused=\(s.buffersRefused) ignored-lines=\(ignored)")
            }
        }
    }
}
