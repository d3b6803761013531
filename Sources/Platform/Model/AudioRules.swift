import Devices
import ServerCommands

/// The rules for `audio:` (AVPS §2.9): the output and input, the roles (names unique, a
/// safety role the highest) and the ducking rules (known roles, a higher role ducks a lower
/// one, never a safety role). Each VM's `- type: sound` is checked against these roles by
/// `SoundKind`.
struct AudioRules {
    static func resolve(_ spec: AudioSpec?, report: inout DiagnosticReport) -> Platform.Audio {
        var audio = Platform.Audio()
        guard let spec else { return audio }
        if let text = spec.output {
            if let output = Platform.Audio.Output(text) { audio.output = output } else {
                report.error("audio.output", "output \(UserText.quoted(text)) is not wav, none or alsa:DEVICE")
            }
        }
        if let text = spec.input {
            if let input = Platform.Audio.Input(text) { audio.input = input } else {
                report.error("audio.input", "input \(UserText.quoted(text)) is not silence, tone:HZ (20 to 3999) or alsa:DEVICE")
            }
        }
        if let roles = spec.roles {
            audio.policy.roles = roles.map { AudioRole(name: $0.name, priority: $0.priority.value, safety: $0.safety ?? false) }
            for problem in AudioPolicy(roles: audio.policy.roles).problems {
                report.error("audio.roles", problem.description, fix: Self.fix(problem))
            }
        }
        for (i, rule) in (spec.ducking ?? []).enumerated() {
            let ducking = DuckingRule(when: rule.when, duck: rule.duck, decibels: Double(rule.by.value),
                                      attackMilliseconds: rule.attack?.value ?? DuckingRule.defaultAttack,
                                      releaseMilliseconds: rule.release?.value ?? DuckingRule.defaultRelease)
            let problems = AudioPolicy(roles: audio.policy.roles, ducking: [ducking]).problems
                .filter { !AudioPolicy(roles: audio.policy.roles).problems.contains($0) }
            for problem in problems { report.error("audio.ducking[\(i)]", problem.description, fix: Self.fix(problem)) }
            if problems.isEmpty { audio.policy.ducking.append(ducking) }
        }
        return audio
    }

    static func fix(_ problem: AudioPolicyProblem) -> String? {
        switch problem {
        case .unknownRole: "declare it under audio.roles, or use one of the roles declared there"
        case .duckingSafetyRole: "remove the rule: a safety sound must always be heard"
        case .duckingNotLower: "give 'when' the higher priority, or swap when and duck"
        case .safetyNotHighest: "give the safety role the highest priority"
        default: nil
        }
    }
}

extension Platform {
    /// The platform's audio: the policy the mixer starts with (the VMs' cards come from their
    /// `- type: sound` devices), the host output and input.
    public struct Audio: Sendable, Equatable {
        public enum Output: Sendable, Equatable {
            /// `logs/audio.wav` in the state directory: what the host would have heard.
            case wav
            case none
            case alsa(String)

            init?(_ text: String) {
                switch text {
                case "wav": self = .wav
                case "none": self = .none
                default:
                    guard text.hasPrefix("alsa:"), text.count > 5 else { return nil }
                    self = .alsa(String(text.dropFirst(5)))
                }
            }
        }

        public enum Input: Sendable, Equatable {
            case silence
            case tone(Double)
            case alsa(String)

            init?(_ text: String) {
                if text == "silence" { self = .silence; return }
                if text.hasPrefix("alsa:"), text.count > 5 { self = .alsa(String(text.dropFirst(5))); return }
                guard text.hasPrefix("tone:"), let hz = Double(text.dropFirst(5)), TestToneSource.frequencies.contains(hz) else { return nil }
                self = .tone(hz)
            }
        }

        public var policy = AudioPolicy()
        public var output = Output.wav
        public var input = Input.silence
    }
}
