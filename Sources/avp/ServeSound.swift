import ArgumentParser
import Devices
import Platform
import VhostUser

struct ServeSound: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: SoundServeOptions.command,
        abstract: "virtio-snd back end (VIRTIO 1.2 §5.14): a sound card whose playback goes to a WAV file and whose capture is a test tone.",
        discussion: """
            QEMU example:
              -chardev socket,id=snd,path=PATH
              -device vhost-user-snd-pci,chardev=snd

            Guest RAM must be shared with the server (memory-backend-memfd with share=on). The card has one playback stream (0) and one capture stream (1), both ALSA device hw:N,0 in the guest, with S16_LE, S32_LE and FLOAT_LE at 8 to 48 kHz, mono or stereo (narrowed by --formats and --rates). Transfers complete at the negotiated rate, so the guest plays and records in real time.
            """)

    @OptionGroup var options: SoundServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("sound", logging: logging) { logger in
            let wav = try options.output.map { try WAVFileSink(path: $0, format: options.outputStreamFormat, logger: logger) }
            let sink: any SoundSink = wav ?? NullSink()
            let source: any SoundSource = options.tone.map { TestToneSource(frequency: $0) } ?? SilenceSource()
            let device = try SoundDevice(topology: .standard(formats: options.formats, rates: options.rates), sink: sink,
                                         source: source, origin: options.endpoints.all[0].path, logger: logger)
            let server = try VhostUserServer(endpoint: options.endpoints.all[0], device: device, logger: logger)
            let to = options.output.map { "playback to \($0) (\(options.outputStreamFormat))" } ?? "playback dropped"
            let from = options.tone.map { "capture of a \(SoundServeOptions.text($0)) Hz tone" } ?? "capture of silence"
            logger.info("sound: \(to), \(from); offering \(options.formats.map(\.description).joined(separator: ", ")) at \(options.rates.map { String($0.hertz) }.joined(separator: ", ")) Hz")
            return .init(servers: [server]) {
                wav?.close()
                let s = device.currentStatistics
                let out = s.total(.output, in: device.topology), inp = s.total(.input, in: device.topology)
                logger.info("statistics: requests=\(s.controlRequests) refused-requests=\(s.refusedRequests) transfers=\(s.transfers) refused-transfers=\(s.refusedTransfers) events=\(s.events) dropped-events=\(s.eventsDropped) played-bytes=\(out.bytes) played-periods=\(out.periods) underruns=\(out.xruns) silent-periods=\(out.starvedPeriods) recorded-bytes=\(inp.bytes) overruns=\(inp.xruns) dropped-periods=\(inp.starvedPeriods) host-errors=\(out.hostErrors + inp.hostErrors)")
            }
        }
    }
}
