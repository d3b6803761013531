import Devices
import Virtio
import ServerCommands

/// virtio-snd (VIRTIO 1.2 §5.14; AVPS §2.9): one `avp serve sound` for the platform — the
/// host's mixer — and a sound card per VM whose playback streams play the roles its
/// `playback:` lists (hw:N,0 first), at its `volume:` and `muted:`; the `audio:` section
/// gives the roles, the ducking rules, the host output and input.
enum SoundKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var playback: [String]
        var volume: Int
        var muted: Bool
    }

    static let kind = DeviceKind.sound
    static let virtioID = VirtioDeviceType.sound
    static let playback = OptionKey<[String]>("playback", .array(
        "Roles of the card's playback streams (sound): hw:N,0, hw:N,1, … in the guest; default one stream of the lowest role.",
        items: .string("A role declared under audio.roles.", pattern: PlatformSchema.namePattern), count: 1...AudioVM.maxPlaybackStreams))
    static let volume = OptionKey<WholeNumber>("volume", .integer("The VM's volume in dB (sound): 0 (unity, the default) down to -96; "
        + "avp audio changes it at run time. Safety roles ignore it.", range: Int(AudioVM.volumeRange.lowerBound)...0))
    static let muted = OptionKey<Bool>("muted", .boolean("Start muted (sound); safety roles are never muted."))
    static let options: [any DeviceOption] = [playback, volume, muted]
    static let sharedServers = SharedServers.refused(reason: "sound is mixed for the whole platform; it is not a shared server",
                                                     fix: "give each VM '- type: sound' and put the policy under 'audio:'")
    static let perVM = PerVMRule(limit: 1, noun: "a sound card", guestFlavour: .backports)

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case .vm = rules.user else { return nil }
        let roles = rules.audioRoles
        let lowest = AudioPolicy(roles: roles).defaultRole.name
        let names = options[playback] ?? [lowest]
        var known = true
        for name in names where !roles.contains(where: { $0.name == name }) {
            rules.error(playback.name, "role '\(name)' is not declared", fix: "use one of " + roles.map(\.name).joined(separator: ", "))
            known = false
        }
        guard known else { return nil }
        return Settings(playback: names, volume: options[volume]?.value ?? 0, muted: options[muted] ?? false)
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { "sound" }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let socket = plan.socket("sound-\(slot.vm)")
        let card = AudioVM(name: slot.vm, playback: slot.settings.playback, volume: Double(slot.settings.volume), muted: slot.settings.muted)
        let audio = plan.platform.audio
        let state = plan.state
        plan.server(serverName(slot), kind: kind, create: {
            var output: String?, alsaOutput: String?, tone: Double?, alsaInput: String?
            switch audio.output {
            case .wav: output = state.audioOutputPath
            case .none: break
            case let .alsa(device): alsaOutput = device
            }
            switch audio.input {
            case .silence: break
            case let .tone(hz): tone = hz
            case let .alsa(device): alsaInput = device
            }
            return SoundServeOptions(vms: [], policy: audio.policy, output: output, alsaOutput: alsaOutput, tone: tone, alsaInput: alsaInput,
                                     control: state.audioControlSocket)
        }) {
            $0.vm.append(SoundVMOption(card: card, endpoint: .connect(socket)))
        }
        plan.restartingVMs(withServer: serverName(slot), because: "QEMU's vhost-user-snd does not reconnect to a restarted back end")
        plan.vm.command.vhostUserDevices.append(.init(model: .sound, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,playback", .strings(settings.playback))]
    }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-snd (a vhost-user-base device: the card's configuration comes from the back end).
    public static let sound = QemuDeviceModel(pci: "vhost-user-snd-pci", mmio: "vhost-user-snd")
}

extension StateDirectory {
    /// The sound server's control socket (`avp audio`).
    public var audioControlSocket: String { socketDirectory + "/sound-control.sock" }
    /// The mix, when the platform's audio output is `wav`.
    public var audioOutputPath: String { logDirectory + "/audio.wav" }
}
