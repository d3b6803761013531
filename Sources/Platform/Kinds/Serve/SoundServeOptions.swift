import ArgumentParser
import Devices

/// `avp serve sound`: AVP's sound card (virtio-snd, VIRTIO 1.2 §5.14) for one VM: a playback
/// stream recorded into a WAV file (or dropped), a capture stream fed a test tone (or silence).
public struct SoundServeOptions: EndpointServeOptions {
    public static let command = "sound"

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("A WAV file that records what the guest plays (created or truncated; one stream at a time, "
        + "converted to --output-format/-rate/-channels). Without it, playback is paced and dropped.", valueName: "file"))
    public var output: String?
    @Option(help: "The WAV file's sample format: s16, s32 or float. Default: s16.", transform: Self.sampleFormat)
    public var outputFormat = PCMSampleFormat.s16
    @Option(help: "The WAV file's frame rate in Hz, 8000 to 48000. Default: 48000.",
            transform: Self.rate)
    public var outputRate = PCMRate.hz48000
    @Option(help: "The WAV file's channels, 1 or 2. Default: 2.", transform: Self.channels)
    public var outputChannels = 2
    @Option(help: ArgumentHelp("What the guest records: a sine tone of this frequency in Hz (20 to 3999), at half of full "
        + "scale on every channel. Without it, the guest records silence.", valueName: "hz"), transform: Self.tone)
    public var tone: Double?
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

    public init() {}

    public init(endpoints: ServeEndpoints, output: String?, outputFormat: PCMStreamFormat? = nil, tone: Double?,
                formats: [PCMSampleFormat] = PCMSampleFormat.allCases, rates: [PCMRate] = PCMRate.allCases) {
        self = .with {
            $0.endpoints = endpoints
            $0.output = output
            if let outputFormat {
                $0.outputFormat = outputFormat.sample
                $0.outputRate = PCMRate(hertz: outputFormat.rate) ?? .hz48000
                $0.outputChannels = outputFormat.channels
            }
            $0.tone = tone
            $0.formatList = SampleFormatList(formats)
            $0.rateList = RateList(rates)
        }
    }

    /// The WAV file's format.
    public var outputStreamFormat: PCMStreamFormat {
        PCMStreamFormat(sample: outputFormat, rate: outputRate.hertz, channels: outputChannels)
    }

    public var arguments: [String] {
        endpoints.arguments + (output.map { ["--output", $0] } ?? [])
            + ["--output-format", outputFormat.shortName, "--output-rate", String(outputRate.hertz),
               "--output-channels", String(outputChannels)]
            + (tone.map { ["--tone", Self.text($0)] } ?? [])
            + ["--formats", formats.map(\.shortName).joined(separator: ","),
               "--rates", rates.map { String($0.hertz) }.joined(separator: ",")]
    }

    public func validate() throws {
        guard endpoints.all.count == 1 else {
            throw ValidationError("a sound card serves one VM: give exactly one --socket or --connect")
        }
        if let tone, let lowest = rates.map(\.hertz).min(), tone >= Double(lowest) / 2 {
            throw ValidationError("--tone \(Self.text(tone)) Hz is not below half of the lowest offered rate (\(lowest) Hz): "
                + "drop the low rates from --rates or choose a lower tone")
        }
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
