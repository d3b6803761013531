/// The host's audio policy (AVPS §2.9: volume, mixing and priority belong to the hypervisor
/// side): the roles streams play, which roles duck which, and each VM's streams, volume and
/// mute. Guests never see or change it; the host changes volume and mute at run time through
/// the mixer's control socket (`avp audio`).
public struct AudioPolicy: Sendable, Equatable {
    public var roles: [AudioRole]
    public var ducking: [DuckingRule]
    public var vms: [AudioVM]

    public init(roles: [AudioRole] = AudioRole.standard, ducking: [DuckingRule] = [], vms: [AudioVM] = []) {
        self.roles = roles
        self.ducking = ducking
        self.vms = vms
    }

    public func role(named name: String) -> AudioRole? { roles.first { $0.name == name } }

    /// The role of a stream nobody gave one: the lowest priority that is not a safety role.
    public var defaultRole: AudioRole {
        roles.filter { !$0.safety }.min { $0.priority < $1.priority } ?? roles[0]
    }

    public func vm(named name: String) -> AudioVM? { vms.first { $0.name == name } }

    /// Everything wrong with the policy, in order; empty if it holds together.
    public var problems: [AudioPolicyProblem] {
        var problems: [AudioPolicyProblem] = []
        var names: Set<String> = []
        if roles.isEmpty { problems.append(.noRoles) }
        for role in roles {
            if !AudioRole.isValidName(role.name) { problems.append(.badRoleName(role.name)) }
            if !names.insert(role.name).inserted { problems.append(.duplicateRole(role.name)) }
            if !AudioRole.priorities.contains(role.priority) { problems.append(.priorityOutOfRange(role.name, role.priority)) }
        }
        if let top = roles.map(\.priority).max() {
            for role in roles where role.safety && role.priority != top { problems.append(.safetyNotHighest(role.name)) }
        }
        for rule in ducking {
            guard let when = role(named: rule.when) else { problems.append(.unknownRole(rule.when)); continue }
            guard let duck = role(named: rule.duck) else { problems.append(.unknownRole(rule.duck)); continue }
            if duck.safety { problems.append(.duckingSafetyRole(rule)) }
            if when.name == duck.name || when.priority <= duck.priority { problems.append(.duckingNotLower(rule, when.priority, duck.priority)) }
            if !DuckingRule.decibelRange.contains(rule.decibels) { problems.append(.attenuationOutOfRange(rule)) }
            if !DuckingRule.rampRange.contains(rule.attackMilliseconds) || !DuckingRule.rampRange.contains(rule.releaseMilliseconds) {
                problems.append(.rampOutOfRange(rule))
            }
        }
        var vmNames: Set<String> = []
        for vm in vms {
            if !vmNames.insert(vm.name).inserted { problems.append(.duplicateVM(vm.name)) }
            for name in vm.playback where role(named: name) == nil { problems.append(.unknownRole(name)) }
            if !(1...AudioVM.maxPlaybackStreams).contains(vm.playback.count) { problems.append(.playbackCount(vm.name, vm.playback.count)) }
            if !AudioVM.volumeRange.contains(vm.volume) { problems.append(.volumeOutOfRange(vm.name, vm.volume)) }
        }
        return problems
    }
}

/// What a stream is for. Priority orders roles (a ducking rule lowers a role of lower priority
/// only); a safety role (a chime, a warning) has the highest priority and is never ducked,
/// muted or turned down: its VM's volume does not apply to it.
public struct AudioRole: Sendable, Equatable, Codable {
    public var name: String
    public var priority: Int
    public var safety: Bool

    public init(name: String, priority: Int, safety: Bool = false) {
        self.name = name
        self.priority = priority
        self.safety = safety
    }

    public static let priorities = 0...1000

    /// media < navigation < phone < chime (safety): what a platform file without `roles:` has.
    public static let standard = [
        AudioRole(name: "media", priority: 10), AudioRole(name: "navigation", priority: 50),
        AudioRole(name: "phone", priority: 70), AudioRole(name: "chime", priority: 100, safety: true),
    ]

    /// 1 to 32 characters: lower-case letters, digits and '-', starting with a letter.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...32).contains(bytes.count), (0x61...0x7A).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
    }
}

/// While a stream of role `when` plays, streams of role `duck` are lowered by `decibels`,
/// reached over `attackMilliseconds` and restored over `releaseMilliseconds` once no `when`
/// stream plays. Several rules on one role: the deepest attenuation holds.
public struct DuckingRule: Sendable, Equatable, Codable, CustomStringConvertible {
    public var when: String
    public var duck: String
    public var decibels: Double
    public var attackMilliseconds: Int
    public var releaseMilliseconds: Int

    public static let defaultAttack = 50
    public static let defaultRelease = 500

    public init(when: String, duck: String, decibels: Double, attackMilliseconds: Int = defaultAttack,
                releaseMilliseconds: Int = defaultRelease) {
        self.when = when
        self.duck = duck
        self.decibels = decibels
        self.attackMilliseconds = attackMilliseconds
        self.releaseMilliseconds = releaseMilliseconds
    }

    public static let decibelRange = 0.0...96.0
    public static let rampRange = 0...10_000

    public var description: String {
        "\(when) ducks \(duck) by \(AudioVM.text(decibels)) dB (attack \(attackMilliseconds) ms, release \(releaseMilliseconds) ms)"
    }
}

/// A VM's sound card as the policy sees it: the role of each playback stream (stream i is the
/// guest's ALSA device hw:N,i), its volume in dB and whether it is muted.
public struct AudioVM: Sendable, Equatable, Codable {
    public var name: String
    public var playback: [String]
    public var volume: Double
    public var muted: Bool

    public init(name: String, playback: [String], volume: Double = 0, muted: Bool = false) {
        self.name = name
        self.playback = playback
        self.volume = volume
        self.muted = muted
    }

    /// A card's playback streams beside its capture stream (`SoundTopology.maxStreams`).
    public static let maxPlaybackStreams = 7
    /// Attenuation only: the mix never goes above unity, so it cannot clip because of a setting.
    public static let volumeRange = -96.0...0.0

    /// A decibel value as policy files and messages write it: "12", "-6.5".
    public static func text(_ decibels: Double) -> String {
        decibels == decibels.rounded() ? String(Int(decibels)) : String(decibels)
    }
}

/// Why a policy does not hold together (`avp check`, `avp serve sound`).
public enum AudioPolicyProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case noRoles
    case badRoleName(String)
    case duplicateRole(String)
    case priorityOutOfRange(String, Int)
    case safetyNotHighest(String)
    case unknownRole(String)
    case duckingSafetyRole(DuckingRule)
    case duckingNotLower(DuckingRule, Int, Int)
    case attenuationOutOfRange(DuckingRule)
    case rampOutOfRange(DuckingRule)
    case duplicateVM(String)
    case playbackCount(String, Int)
    case volumeOutOfRange(String, Double)

    public var description: String {
        switch self {
        case .noRoles: "no audio roles are declared"
        case let .badRoleName(name): "role name \(name.debugDescription) is not 1 to 32 lower-case letters, digits or '-', starting with a letter"
        case let .duplicateRole(name): "role '\(name)' is declared twice"
        case let .priorityOutOfRange(name, p): "role '\(name)' has priority \(p); priorities are \(AudioRole.priorities.lowerBound) to \(AudioRole.priorities.upperBound)"
        case let .safetyNotHighest(name): "safety role '\(name)' must have the highest priority: nothing may outrank a safety sound"
        case let .unknownRole(name): "role '\(name)' is not declared"
        case let .duckingSafetyRole(rule): "'\(rule)': '\(rule.duck)' is a safety role, which is never ducked"
        case let .duckingNotLower(rule, when, duck): "'\(rule)': a role ducks only roles of lower priority ('\(rule.when)' \(when), '\(rule.duck)' \(duck))"
        case let .attenuationOutOfRange(rule): "'\(rule)': the attenuation is 0 to \(Int(DuckingRule.decibelRange.upperBound)) dB"
        case let .rampOutOfRange(rule): "'\(rule)': attack and release are 0 to \(DuckingRule.rampRange.upperBound) ms"
        case let .duplicateVM(name): "VM '\(name)' has two sound cards"
        case let .playbackCount(name, n): "VM '\(name)' has \(n) playback streams; a card has 1 to \(AudioVM.maxPlaybackStreams)"
        case let .volumeOutOfRange(name, v): "VM '\(name)': volume \(AudioVM.text(v)) dB is outside \(Int(AudioVM.volumeRange.lowerBound)) to 0 dB"
        }
    }
}
