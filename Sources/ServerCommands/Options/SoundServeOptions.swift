import ArgumentParser
import Devices
import VhostUser

/// `avp serve sound`: AVP's sound cards (virtio-snd, VIRTIO 1.2 §5.14) and the host's mixer
/// (AVPS §2.9). Standalone: one `--socket`/`--connect` VM with one playback and one capture
/// stream. For a platform: a `--vm` per VM with its streams' roles, volume and mute, the
/// `--role`s and `--duck`ing rules, and one host output and input for all of them.
public struct SoundServeOptions: EndpointServeOptions {
    public static let command = "sound"
    /// S16 stereo at 48 kHz.
    public static let defaultMixFormat = PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)
    /// The name a standalone endpoint's VM has in the policy and the logs.
    public static let standaloneVM = "guest"

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("A VM: name=NAME,listen=SOCKET|connect=SOCKET[,playback=ROLE+ROLE...][,volume=DB][,muted] (repeat). "
        + "Its playback streams are hw:N,0, hw:N,1, … in the guest, each with its role; default one stream of the lowest role."),
            transform: SoundVMOption.init(parsing:))
    public var vm: [SoundVMOption] = []
    @Option(help: "A role streams play: name=NAME,priority=0..1000[,safety] (repeat). Default: media 10, navigation 50, phone 70, chime 100 (safety).",
            transform: SoundRoleOption.init(parsing:))
    public var role: [SoundRoleOption] = []
    @Option(help: "A ducking rule: when=ROLE,duck=ROLE,by=DB[,attack=MS][,release=MS] (repeat; attack 50 and release 500 ms by default).",
            transform: SoundDuckOption.init(parsing:))
    public var duck: [SoundDuckOption] = []
    @Option(help: ArgumentHelp("Record the mix into this WAV file (created or truncated), in real time: silence while nothing plays. "
        + "Without it or --alsa-output, the mix is paced and dropped.", valueName: "file"))
    public var output: String?
    @Option(help: ArgumentHelp("Play the mix on this ALSA device (e.g. default, hw:0, plughw:1,0); the card's clock paces the mixer.", valueName: "device"))
    public var alsaOutput: String?
    @Option(help: "The mix's sample format: s16, s32 or float. Default: s16.", transform: Self.sampleFormat)
    public var outputFormat = PCMSampleFormat.s16
    @Option(help: "The mix's frame rate in Hz, 8000 to 48000. Default: 48000.",
            transform: Self.rate)
    public var outputRate = PCMRate.hz48000
    @Option(help: "The mix's channels, 1 or 2. Default: 2.", transform: Self.channels)
    public var outputChannels = 2
    @Option(help: ArgumentHelp("What the guests record: a sine tone of this frequency in Hz (20 to 3999), at half of full "
        + "scale on every channel. Without it or --alsa-input, the guests record silence.", valueName: "hz"), transform: Self.tone)
    public var tone: Double?
    @Option(help: ArgumentHelp("What the guests record: this ALSA capture device (e.g. default, dsnoop, hw:0).", valueName: "device"))
    public var alsaInput: String?
    @Option(help: ArgumentHelp("Listen on this Unix socket for the host's volume and mute changes (avp audio).", valueName: "socket"))
    public var control: String?
    @Option(name: .customLong("formats"), help: "Sample formats the streams offer, comma-separated: s16, s32, float. Default: all.",
            transform: SampleFormatList.init(parsing:))
    var formatList = SampleFormatList(PCMSampleFormat.allCases)
    @Option(name: .customLong("rates"),
            help: "Frame rates the streams offer in Hz, comma-separated, from 8000, 11025, 16000, 22050, 32000, 44100, 48000. Default: all.",
            transform: RateList.init(parsing:))
    var rateList = RateList(PCMRate.allCases)

    /// The sample formats the streams offer.
    public var formats: [PCMSampleFormat] { formatList.values }
    /// The rates the streams offer.
    public var rates: [PCMRate] { rateList.values }

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    /// A standalone server for one endpoint (tests, a hand-written QEMU line).
    public init(endpoints: ServeEndpoints, output: String?, outputFormat: PCMStreamFormat? = nil, tone: Double?,
                formats: [PCMSampleFormat] = PCMSampleFormat.allCases, rates: [PCMRate] = PCMRate.allCases) {
        self.init(endpoints: endpoints, vms: [], policy: AudioPolicy(), output: output, outputFormat: outputFormat, tone: tone,
                  formats: formats, rates: rates)
    }

    /// The platform's sound server: its VMs (each card's roles, volume and mute), the roles and
    /// ducking rules, the host's output and input, the control socket.
    public init(endpoints: ServeEndpoints = ServeEndpoints(socket: [], connect: []), vms: [SoundVMOption], policy: AudioPolicy,
                output: String?, alsaOutput: String? = nil, outputFormat: PCMStreamFormat? = nil, tone: Double?, alsaInput: String? = nil,
                control: String? = nil, formats: [PCMSampleFormat] = PCMSampleFormat.allCases, rates: [PCMRate] = PCMRate.allCases) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.vm = vms
            $0.role = policy.roles == AudioRole.standard ? [] : policy.roles.map(SoundRoleOption.init)
            $0.duck = policy.ducking.map(SoundDuckOption.init)
            $0.output = output
            $0.alsaOutput = alsaOutput
            // Every property is set: a wrapper's default is not readable in options made by value.
            let mix = outputFormat ?? Self.defaultMixFormat
            $0.outputFormat = mix.sample
            $0.outputRate = PCMRate(hertz: mix.rate) ?? .hz48000
            $0.outputChannels = mix.channels
            $0.tone = tone
            $0.alsaInput = alsaInput
            $0.control = control
            $0.formatList = SampleFormatList(formats)
            $0.rateList = RateList(rates)
        }
    }

    /// The mix's format.
    public var outputStreamFormat: PCMStreamFormat {
        PCMStreamFormat(sample: outputFormat, rate: outputRate.hertz, channels: outputChannels)
    }

    /// Each VM served: its card's policy and its endpoint (a standalone endpoint is `guest`, one stream of the lowest role).
    public var servedVMs: [(card: AudioVM, endpoint: VhostUserServer.Endpoint)] {
        let lowest = AudioPolicy(roles: roles).defaultRole.name
        return endpoints.all.map { (AudioVM(name: Self.standaloneVM, playback: [lowest]), $0) }
            + vm.map { v in
                var card = v.card
                if card.playback.isEmpty { card.playback = [lowest] }
                return (card, v.endpoint)
            }
    }

    /// The roles given, or the standard ones.
    var roles: [AudioRole] { role.isEmpty ? AudioRole.standard : role.map(\.role) }

    /// The policy the mixer starts with.
    public var policy: AudioPolicy {
        AudioPolicy(roles: roles, ducking: duck.map(\.rule), vms: servedVMs.map { $0.card })
    }

    public var arguments: [String] {
        endpoints.arguments + vm.flatMap { ["--vm", $0.text] } + role.flatMap { ["--role", $0.text] } + duck.flatMap { ["--duck", $0.text] }
            + (output.map { ["--output", $0] } ?? []) + (alsaOutput.map { ["--alsa-output", $0] } ?? [])
            + ["--output-format", outputFormat.shortName, "--output-rate", String(outputRate.hertz),
               "--output-channels", String(outputChannels)]
            + (tone.map { ["--tone", Self.text($0)] } ?? []) + (alsaInput.map { ["--alsa-input", $0] } ?? [])
            + (control.map { ["--control", $0] } ?? [])
            + ["--formats", formats.map(\.shortName).joined(separator: ","),
               "--rates", rates.map { String($0.hertz) }.joined(separator: ",")] + sandbox.arguments
    }

    public func validate() throws {
        if endpoints.all.isEmpty, vm.isEmpty { throw ValidationError("give a --socket or --connect (one VM), or --vm for each VM") }
        if endpoints.all.count > 1 || (!endpoints.all.isEmpty && !vm.isEmpty) {
            throw ValidationError("a standalone server has one --socket or --connect; name several VMs with --vm instead")
        }
        if output != nil, alsaOutput != nil { throw ValidationError("give --output or --alsa-output, not both: the mix has one output") }
        if tone != nil, alsaInput != nil { throw ValidationError("give --tone or --alsa-input, not both: the guests record one input") }
        if let tone, let lowest = rates.map(\.hertz).min(), tone >= Double(lowest) / 2 {
            throw ValidationError("--tone \(Self.text(tone)) Hz is not below half of the lowest offered rate (\(lowest) Hz): "
                + "drop the low rates from --rates or choose a lower tone")
        }
        if let problem = policy.problems.first { throw ValidationError(problem.description) }
    }

    // MARK: Values

    /// A frequency as the command line writes it: "1000", "440.5".
    public static func text(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    static func sampleFormat(_ text: String) throws -> PCMSampleFormat {
        guard let format = PCMSampleFormat(shortName: text) else {
            throw ValidationError("sample format \(UserText.quoted(text)): use s16, s32 or float")
        }
        return format
    }

    static func rate(_ text: String) throws -> PCMRate {
        guard text.utf8.count <= 6, let hertz = Int(text), let rate = PCMRate(hertz: hertz) else {
            throw ValidationError("rate \(UserText.quoted(text)): use one of \(PCMRate.allCases.map { String($0.hertz) }.joined(separator: ", "))")
        }
        return rate
    }

    static func channels(_ text: String) throws -> Int {
        guard text == "1" || text == "2" else { throw ValidationError("channels \(UserText.quoted(text)): use 1 or 2") }
        return Int(text)!
    }

    static func tone(_ text: String) throws -> Double {
        guard text.utf8.count <= 10, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") }),
              let hz = Double(text), TestToneSource.frequencies.contains(hz) else {
            throw ValidationError("tone \(UserText.quoted(text)): use a frequency in Hz from 20 to 3999, e.g. 1000 or 440.5")
        }
        return hz
    }
}

/// `--formats s16,s32`: at least one, each once, kept in the specification's order.
struct SampleFormatList: Sendable, Equatable {
    var values: [PCMSampleFormat]

    init(_ values: [PCMSampleFormat]) { self.values = PCMSampleFormat.allCases.filter(values.contains) }

    init(parsing text: String) throws {
        self.init(try text.split(separator: ",", omittingEmptySubsequences: false).map { try SoundServeOptions.sampleFormat(String($0)) })
    }
}

/// `--rates 44100,48000`: at least one, each once, in increasing order.
struct RateList: Sendable, Equatable {
    var values: [PCMRate]

    init(_ values: [PCMRate]) { self.values = PCMRate.allCases.filter(values.contains) }

    init(parsing text: String) throws {
        self.init(try text.split(separator: ",", omittingEmptySubsequences: false).map { try SoundServeOptions.rate(String($0)) })
    }
}
