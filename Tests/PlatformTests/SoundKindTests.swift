import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// `- type: sound` and `audio:`: one mixer for the platform, each VM's card with its streams'
/// roles, volume and mute; roles and ducking rules checked by `avp check`.
@Suite struct SoundKindTests {
    let s: Scratch
    init() throws { s = try Scratch() }

    static let platform = """
        profile: production
        audio:
          input: tone:440
          ducking:
            - {when: navigation, duck: media, by: 12, attack: 80, release: 400}
        vms:
          - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: sound, playback: [media, navigation], volume: -6}]}
          - {name: cluster, machine: microvm, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: sound, playback: [chime], muted: true}]}
          - {name: rear, kernel: vmlinuz, initrd: initrd, devices: [{type: sound}]}
        """

    @Test("one sound server mixes every VM's card under the platform's policy; each VM gets a vhost-user-snd device")
    func planned() throws {
        let state = s.directory + "/state"
        let p = try s.plan(Self.platform, stateDirectory: state)
        let servers = p.servers.filter { $0.kind == .sound }
        try #require(servers.map(\.name) == ["sound"])
        let options = try SoundServeOptions.parse(Array(servers[0].arguments.dropFirst(2)))
        #expect(options.vm.map(\.card) == [AudioVM(name: "ivi", playback: ["media", "navigation"], volume: -6),
                                           AudioVM(name: "cluster", playback: ["chime"], muted: true),
                                           AudioVM(name: "rear", playback: ["media"])])
        #expect(options.vm.map(\.endpoint) == ["ivi", "cluster", "rear"].map { .connect(state + "/sockets/sound-\($0).sock") })
        #expect(options.policy.ducking == [DuckingRule(when: "navigation", duck: "media", decibels: 12, attackMilliseconds: 80, releaseMilliseconds: 400)])
        #expect(options.policy.roles == AudioRole.standard && options.tone == 440)
        #expect(options.output == state + "/logs/audio.wav" && options.control == state + "/sockets/sound-control.sock")
        #expect(servers[0].onRestart != .frontEndsReconnect, "QEMU's vhost-user-snd does not reconnect: its VMs restart with it")
        let ivi = p.vms[0].command.arguments.joined(separator: " ")
        let cluster = p.vms[1].command.arguments.joined(separator: " ")
        #expect(ivi.contains("vhost-user-snd-pci,chardev=sound0"), "\(ivi)")
        #expect(cluster.contains("vhost-user-snd,chardev=sound1"), "\(cluster)")
    }

    @Test("avp check: unknown roles, a safety role ducked, a lower role ducking a higher, a safety role not on top, shared servers")
    func rules() {
        let e = errors(s.load("""
            profile: development
            servers: [{name: mixer, type: sound}]
            audio:
              roles:
                - {name: media, priority: 10}
                - {name: alarm, priority: 20, safety: true}
                - {name: navigation, priority: 50}
                - {name: media, priority: 5}
              ducking:
                - {when: navigation, duck: alarm, by: 10}
                - {when: media, duck: navigation, by: 10}
                - {when: phone, duck: media, by: 10}
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: sound, playback: [radio]}, {type: sound}]}
            """))
        for expected in ["role 'media' is declared twice",
                         "safety role 'alarm' must have the highest priority", "'alarm' is a safety role, which is never ducked",
                         "a role ducks only roles of lower priority ('media' 10, 'navigation' 50)", "role 'phone' is not declared",
                         "role 'radio' is not declared", "sound is mixed for the whole platform", "VM 'a' already has a sound card"] {
            #expect(e.contains { $0.contains(expected) }, "\(expected): \(e)")
        }
        let output = errors(s.load("profile: development\naudio: {output: speakers, input: 'tone:9000'}\nvms: [{name: a}]\n"))
        #expect(output.contains { $0.contains("'speakers' does not match") }, "\(output)")
        #expect(errors(s.load("profile: development\naudio: {input: 'tone:9000'}\nvms: [{name: a}]\n"))
            .contains { $0.contains("input 'tone:9000' is not silence, tone:HZ (20 to 3999) or alsa:DEVICE") })
        let fine = s.load(Self.platform)
        #expect(fine.errors.isEmpty, "\(errors(fine))")
    }

    @Test("avp describe shows each card's playback roles")
    func deviceTree() throws {
        let platform = try #require(s.load(Self.platform).platform)
        let text = DeviceTreeSource.render(try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil))
        #expect(text.contains("avp,playback = \"media\", \"navigation\""), "\(text)")
    }

    @Test("avp serve sound options: a round trip of a platform's server, and each refusal")
    func serveOptions() throws {
        let options = SoundServeOptions(
            vms: [SoundVMOption(card: AudioVM(name: "ivi", playback: ["media", "navigation"], volume: -6.5, muted: true), endpoint: .listen("/s/ivi.sock")),
                  SoundVMOption(card: AudioVM(name: "cluster", playback: ["alarm"]), endpoint: .connect("/s/c.sock"))],
            policy: AudioPolicy(roles: [AudioRole(name: "media", priority: 1), AudioRole(name: "navigation", priority: 2),
                                        AudioRole(name: "alarm", priority: 3, safety: true)],
                                ducking: [DuckingRule(when: "navigation", duck: "media", decibels: 9.5, attackMilliseconds: 0, releaseMilliseconds: 10)]),
            output: nil, alsaOutput: "plughw:1,0", tone: nil, alsaInput: "dsnoop", control: "/s/control")
        let back = try SoundServeOptions.parse(options.arguments)
        #expect(back.arguments == options.arguments)
        #expect(back.policy == options.policy && back.policy.vms.count == 2 && back.alsaOutput == "plughw:1,0" && back.alsaInput == "dsnoop")
        for bad in [["--vm", "name=a,listen=/a,volume=3"], ["--vm", "name=a,listen=/a,playback=radio"], ["--vm", "name=a,listen=/a,volume=x"],
                    ["--vm", "name=a,listen=/a", "--vm", "name=a,listen=/b"], ["--socket", "/a", "--vm", "name=a,listen=/b"],
                    ["--socket", "/a", "--duck", "when=media,duck=chime,by=3"], ["--socket", "/a", "--duck", "when=chime,duck=media,by=-3"],
                    ["--socket", "/a", "--role", "name=x,priority=1,safety", "--role", "name=y,priority=2"],
                    ["--socket", "/a", "--output", "/x.wav", "--alsa-output", "default"], ["--socket", "/a", "--tone", "440", "--alsa-input", "default"],
                    ["--vm", "name=a,listen=/a,playback=media+media+media+media+media+media+media+media"]] {
            #expect(throws: (any Error).self, "\(bad)") { try SoundServeOptions.parse(bad) }
        }
    }
}
