import ArgumentParser
import Devices
import VhostUser

/// `--vm name=NAME,listen=SOCKET|connect=SOCKET[,playback=ROLE+ROLE...][,volume=DB][,muted]`:
/// one VM's sound card in the platform's sound server. Its playback streams are hw:N,0,
/// hw:N,1, … in the guest, each with its role (default: one stream of the lowest role).
public struct SoundVMOption: Sendable, Equatable {
    public var card: AudioVM
    public var endpoint: VhostUserServer.Endpoint

    public init(card: AudioVM, endpoint: VhostUserServer.Endpoint) {
        self.card = card
        self.endpoint = endpoint
    }

    public init(parsing text: String) throws {
        let what = "vm \(UserText.quoted(text))"
        let fields = try KeyValueList(parsing: text, what: what, known: ["name", "listen", "connect", "playback", "volume"], flags: ["muted"])
        let playback = fields.value("playback").map { $0.split(separator: "+", omittingEmptySubsequences: false).map(String.init) } ?? []
        var volume = 0.0
        if let text = fields.value("volume") {
            guard let v = SoundVMOption.decibels(text) else { throw ValidationError("\(what): volume= is a number of dB, e.g. -6") }
            volume = v
        }
        self.init(card: AudioVM(name: try fields.required("name"), playback: playback, volume: volume, muted: fields.has("muted")),
                  endpoint: try fields.endpoint())
    }

    public var text: String {
        var fields = KeyValueList(what: "vm")
        fields.append("name", card.name)
        fields.append(endpoint)
        if !card.playback.isEmpty { fields.append("playback", card.playback.joined(separator: "+")) }
        if card.volume != 0 { fields.append("volume", AudioVM.text(card.volume)) }
        if card.muted { fields.append(flag: "muted") }
        return fields.text
    }

    /// A decibel value: an optional '-', digits, at most one '.'; short enough to be a setting.
    static func decibels(_ text: String) -> Double? {
        let body = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard (1...8).contains(body.utf8.count), body.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") }),
              body.utf8.filter({ $0 == UInt8(ascii: ".") }).count <= 1 else { return nil }
        return Double(text)
    }
}

/// `--role name=NAME,priority=N[,safety]`: a role streams may play (repeat; without any, the
/// standard media, navigation, phone and chime).
public struct SoundRoleOption: Sendable, Equatable {
    public var role: AudioRole

    public init(_ role: AudioRole) { self.role = role }

    public init(parsing text: String) throws {
        let what = "role \(UserText.quoted(text))"
        let fields = try KeyValueList(parsing: text, what: what, known: ["name", "priority"], flags: ["safety"])
        guard case let .value(priority) = WholeNumber.read(try fields.required("priority")) else {
            throw ValidationError("\(what): priority= is a whole number from 0 to 1000")
        }
        role = AudioRole(name: try fields.required("name"), priority: priority, safety: fields.has("safety"))
    }

    public var text: String {
        var fields = KeyValueList(what: "role")
        fields.append("name", role.name)
        fields.append("priority", String(role.priority))
        if role.safety { fields.append(flag: "safety") }
        return fields.text
    }
}

/// `--duck when=ROLE,duck=ROLE,by=DB[,attack=MS][,release=MS]`: a ducking rule (repeat).
public struct SoundDuckOption: Sendable, Equatable {
    public var rule: DuckingRule

    public init(_ rule: DuckingRule) { self.rule = rule }

    public init(parsing text: String) throws {
        let what = "duck \(UserText.quoted(text))"
        let fields = try KeyValueList(parsing: text, what: what, known: ["when", "duck", "by", "attack", "release"])
        guard let by = SoundVMOption.decibels(try fields.required("by")), by >= 0 else {
            throw ValidationError("\(what): by= is the attenuation in dB, e.g. 12")
        }
        func milliseconds(_ key: String, _ otherwise: Int) throws -> Int {
            guard let text = fields.value(key) else { return otherwise }
            guard case let .value(ms) = WholeNumber.read(text) else { throw ValidationError("\(what): \(key)= is a whole number of milliseconds") }
            return ms
        }
        rule = DuckingRule(when: try fields.required("when"), duck: try fields.required("duck"), decibels: by,
                           attackMilliseconds: try milliseconds("attack", DuckingRule.defaultAttack),
                           releaseMilliseconds: try milliseconds("release", DuckingRule.defaultRelease))
    }

    public var text: String {
        var fields = KeyValueList(what: "duck")
        fields.append("when", rule.when)
        fields.append("duck", rule.duck)
        fields.append("by", AudioVM.text(rule.decibels))
        fields.append("attack", String(rule.attackMilliseconds))
        fields.append("release", String(rule.releaseMilliseconds))
        return fields.text
    }
}
