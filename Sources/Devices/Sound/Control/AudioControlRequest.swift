/// What the host asks the sound server's control socket (`avp audio`): the mixer's state, or
/// a change of one VM's volume or mute (AVPS §2.9: volume belongs to the hypervisor side).
/// Guests have no path here: the socket is in the platform's private state directory. A
/// change lasts until the sound server restarts; the platform file is the policy it starts with.
///
/// One JSON object per line each way (`JSONLine`), at most `maxLine` bytes.
public enum AudioControlRequest: Codable, Sendable, Equatable {
    case show
    /// The last minute's levels (`avp audio --plot`).
    case levels
    case volume(vm: String, decibels: Double)
    case mute(vm: String, muted: Bool)

    public static let maxLine = 4096

    public init(line: [UInt8]) throws(AudioControlError) {
        guard line.count <= Self.maxLine else { throw .lineTooLong }
        guard let request = JSONLine.decode(Self.self, from: line, maxLine: Self.maxLine) else { throw .malformedRequest }
        self = request
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// The answer: the mixer's state after the request, or why it was refused.
public enum AudioControlResponse: Codable, Sendable, Equatable {
    case status(MixerStatus)
    case levels(MixerLevels)
    case refused(reason: String)

    public init(line: [UInt8]) throws(AudioControlError) {
        guard let response = JSONLine.decode(Self.self, from: line, maxLine: 1 << 20) else { throw .malformedResponse }
        self = response
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

public enum AudioControlError: Error, Sendable, Equatable, CustomStringConvertible {
    case lineTooLong
    case malformedRequest
    case malformedResponse
    case unknownVM(String, known: [String])
    case volumeOutOfRange(Double)

    public var description: String {
        switch self {
        case .lineTooLong: "a control request is one line of at most \(AudioControlRequest.maxLine) bytes"
        case .malformedRequest: "the control request is not an audio request (JSON: show, levels, volume or mute)"
        case .malformedResponse: "the sound server's answer is not an audio control response"
        case let .unknownVM(vm, known): "no VM '\(vm)' has a sound card here; VMs: \(known.joined(separator: ", "))"
        case let .volumeOutOfRange(v):
            "volume \(v.isFinite ? AudioVM.text(v) : "\(v)") dB is outside \(Int(AudioVM.volumeRange.lowerBound)) to 0 dB (attenuation only)"
        }
    }
}

/// What the mixer played over the last minute, oldest first: each role's level after its gains
/// and the mix's, in dBFS per `windowMilliseconds` slice (−120: silence).
public struct MixerLevels: Codable, Sendable, Equatable {
    public struct Role: Codable, Sendable, Equatable {
        public var name: String
        public var decibels: [Double]
    }
    public var windowMilliseconds: Int
    public var roles: [Role]
    public var mix: [Double]
}

/// The mixer as the control socket shows it: each VM's volume, mute and streams, each role's
/// ducking now, and the mixer's counters.
public struct MixerStatus: Codable, Sendable, Equatable {
    public struct VM: Codable, Sendable, Equatable {
        public var name: String
        public var volume: Double
        public var muted: Bool
        /// The role of each playback stream, hw:N,0 first.
        public var playback: [String]
    }
    public struct Role: Codable, Sendable, Equatable {
        public var name: String
        public var priority: Int
        public var safety: Bool
        /// Attenuation by ducking now, dB.
        public var ducked: Double
        /// Streams of this role playing now.
        public var playing: Int
    }

    public var vms: [VM]
    public var roles: [Role]
    public var rules: [String]
    public var statistics: MixerStatistics
}
