import ArgumentParser
import Logging
import Devices
import VhostUser

struct ServeSound: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: SoundServeOptions.command,
        abstract: "virtio-snd back end (VIRTIO 1.2 §5.14) and the host's mixer: each VM's sound card, mixed into one output under the host's audio policy.",
        discussion: """
            QEMU example:
              -chardev socket,id=snd,path=PATH
              -device vhost-user-snd-pci,chardev=snd

            Guest RAM must be shared with the server (memory-backend-memfd with share=on). A standalone card (--socket) has one \
            playback stream (0) and one capture stream (1), both ALSA device hw:N,0 in the guest; a --vm card has a playback stream \
            per role (hw:N,0, hw:N,1, …) and the capture stream on hw:N,0. Streams offer S16_LE, S32_LE and FLOAT_LE at 8 to 48 kHz, \
            mono or stereo (narrowed by --formats and --rates). Transfers complete at the negotiated rate, so the guests play and \
            record in real time. The mixer applies each VM's volume and mute and the ducking rules; safety roles are never ducked, \
            muted or turned down.
            """)

    @OptionGroup var options: SoundServeOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try ServeLifecycle.run("sound", logging: logging, sandbox: activeSandbox) { logger in
            let format = options.outputStreamFormat
            let output: any SoundOutput
            if let path = options.output {
                output = try WAVFileOutput(path: path, format: format, logger: logger)
            } else if let device = options.alsaOutput {
                output = try ALSAOutput(device: device, format: format, periodFrames: SoundMixer.periodFrames(at: format.rate), logger: logger)
            } else {
                output = NullOutput(format: format)
            }
            let source: any SoundSource
            if let hz = options.tone {
                source = TestToneSource(frequency: hz)
            } else if let device = options.alsaInput {
                source = ALSASource(device: device, logger: logger)
            } else {
                source = SilenceSource()
            }
            let policy = options.policy
            let mixer = try SoundMixer(output: output, policy: policy, logger: logger)
            var devices: [(String, SoundDevice)] = []
            var servers: [VhostUserServer] = []
            for (card, endpoint) in options.servedVMs {
                let topology = SoundTopology.card(playback: card.playback.count, formats: options.formats, rates: options.rates)
                let device = try SoundDevice(topology: topology, sink: mixer, source: source, origin: card.name, logger: logger)
                devices.append((card.name, device))
                servers.append(try VhostUserServer(endpoint: endpoint, device: device, logger: logger))
                logger.info("sound: VM '\(card.name)': playback \(card.playback.enumerated().map { "hw:N,\($0.offset) \($0.element)" }.joined(separator: ", ")), volume \(AudioVM.text(card.volume)) dB\(card.muted ? ", muted" : "")")
            }
            let control = try options.control.map { try AudioControlServer(path: $0, mixer: mixer, logger: logger) }
            let to = options.output.map { "the mix to \($0) (\(format))" } ?? options.alsaOutput.map { "the mix to ALSA \($0) (\(format))" }
                ?? "the mix dropped"
            let from = options.tone.map { "capture of a \(SoundServeOptions.text($0)) Hz tone" } ?? options.alsaInput.map { "capture from ALSA \($0)" }
                ?? "capture of silence"
            logger.info("sound: \(to), \(from); roles \(policy.roles.map { "\($0.name) \($0.priority)\($0.safety ? " (safety)" : "")" }.joined(separator: ", "))\(policy.ducking.isEmpty ? "" : "; " + policy.ducking.map(\.description).joined(separator: "; "))")
            return .init(servers: servers) {
                control?.stop()
                mixer.stop()
                output.close()
                let m = mixer.status.statistics
                logger.info("mixer: periods=\(m.periods) underruns=\(m.underruns) output-errors=\(m.outputErrors)")
                for (name, device) in devices { Self.logStatistics(of: device, vm: name, logger: logger) }
            }
        }
    }

    static func logStatistics(of device: SoundDevice, vm: String, logger: Logger) {
        let s = device.currentStatistics
        let out = s.total(.output, in: device.topology), inp = s.total(.input, in: device.topology)
        let p50 = s.latency.percentile(0.5).map(String.init) ?? "n/a", p99 = s.latency.percentile(0.99).map(String.init) ?? "n/a"
        logger.info("statistics: vm=\(vm) requests=\(s.controlRequests) refused-requests=\(s.refusedRequests) transfers=\(s.transfers) refused-transfers=\(s.refusedTransfers) events=\(s.events) dropped-events=\(s.eventsDropped) played-bytes=\(out.bytes) played-periods=\(out.periods) underruns=\(out.xruns) silent-periods=\(out.starvedPeriods) recorded-bytes=\(inp.bytes) overruns=\(inp.xruns) dropped-periods=\(inp.starvedPeriods) host-errors=\(out.hostErrors + inp.hostErrors) latency-p50-us=\(p50) latency-p99-us=\(p99)")
    }
}
