import ArgumentParser
import Foundation
import Devices
import Platform
import ServerCommands

/// `avp audio FILE [VM (--volume DB | --mute | --unmute)]`: shows or changes a running
/// platform's mixer (AVPS §2.9: volume belongs to the hypervisor side) through the sound
/// server's control socket.
struct AudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio",
        abstract: "Show or change a running platform's audio (AVPS 2.9): a VM's volume or mute; the roles playing and their ducking.",
        discussion: """
            Without a change, prints each VM's volume and streams, each role's ducking now, and the mixer's counters. A change \
            lasts until the platform (or its sound server) restarts; the platform file holds the policy it starts with. Safety \
            roles (a chime) are never muted or turned down. Guests cannot change any of it: only the host user reaches the \
            control socket in the state directory.
              avp audio cockpit.yaml
              avp audio cockpit.yaml ivi --volume -12
              avp audio cockpit.yaml ivi --mute
              avp audio cockpit.yaml --plot levels.png
            --plot draws what the mixer played over the last minute: the mix filled, each role's level after its gains as a \
            line of its colour (printed), 0 dBFS at the top to -72 at the bottom, grey lines every 12 dB and every 5 s.
            """)

    @OptionGroup var platformFile: PlatformFileArgument
    @Argument(help: "The VM to change (it needs a sound device).") var vm: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("New volume in dB: 0 (unity) down to -96.", valueName: "dB"),
            transform: AudioCommand.decibels)
    var volume: Double?
    @Flag(help: "Mute the VM (its safety streams still play).") var mute = false
    @Flag(help: "Unmute the VM.") var unmute = false
    @Option(help: ArgumentHelp("Draw the last minute's levels, per role and of the mix, into this PNG file.", valueName: "file.png"))
    var plot: String?

    func validate() throws {
        let changes = [volume != nil, mute, unmute].filter { $0 }.count
        if changes > 1 { throw ValidationError("give one change at a time: --volume, --mute or --unmute") }
        if changes == 1, vm == nil { throw ValidationError("a change needs the VM's name") }
        if changes == 0, vm != nil { throw ValidationError("the VM needs a change: --volume, --mute or --unmute") }
        if plot != nil, changes > 0 { throw ValidationError("--plot draws; give changes in another call") }
    }

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        guard platform.vms.contains(where: { vm in vm.devices.contains { $0.kind == .sound } }) else {
            throw CommandFailure("no VM of \(platformFile.file) has a sound device ('- type: sound')")
        }
        let client = try ControlSocketClient(path: StateDirectory.default(for: platform).audioControlSocket, server: "the sound server",
                                             file: platformFile.file)
        let request: AudioControlRequest
        switch (vm, volume, mute, unmute) {
        case (nil, _, _, _) where plot != nil: request = .levels
        case let (vm?, volume?, _, _): request = .volume(vm: vm, decibels: volume)
        case let (vm?, nil, true, _): request = .mute(vm: vm, muted: true)
        case let (vm?, nil, _, true): request = .mute(vm: vm, muted: false)
        default: request = .show
        }
        switch try AudioControlResponse(line: try client.ask(request.line)) {
        case let .status(status): print(Self.table(status), terminator: "")
        case let .levels(levels):
            guard let plot else { throw CommandFailure("the sound server sent levels nobody asked for") }
            try OutputFile.write(SoundLevelPlot.png(levels), to: plot)
            let legend = levels.roles.enumerated().map { "\($0.element.name) \(SoundLevelPlot.palette[$0.offset % SoundLevelPlot.palette.count].name)" }
            print("\(plot): the last \(levels.mix.count * levels.windowMilliseconds / 1000) s; mix filled, "
                + legend.joined(separator: ", ") + "; 0 dBFS at the top, \(Int(SoundLevelPlot.floor)) at the bottom, lines every 12 dB and 5 s")
        case let .refused(reason): throw CommandFailure(reason)
        }
    }

    static func decibels(_ text: String) throws -> Double {
        guard text.utf8.count <= 8, let value = Double(text), value.isFinite, AudioVM.volumeRange.contains(value) else {
            throw ValidationError("volume \(UserText.quoted(text)): a number of dB from 0 down to -96, e.g. -6")
        }
        return value
    }

    static func table(_ status: MixerStatus) -> String {
        var text = "VMs:\n"
        for vm in status.vms {
            let streams = vm.playback.enumerated().map { "hw:N,\($0.offset) \($0.element)" }.joined(separator: ", ")
            text += "  \(vm.name)  volume \(AudioVM.text(vm.volume)) dB\(vm.muted ? "  muted" : "")  playback: \(streams)\n"
        }
        text += "roles (priority; ducked now; streams playing):\n"
        for r in status.roles {
            let ducked = r.ducked == 0 ? "" : String(format: "  ducked %.1f dB", r.ducked)
            text += "  \(r.name)  \(r.priority)\(r.safety ? "  safety" : "")\(ducked)  playing \(r.playing)\n"
        }
        if !status.rules.isEmpty { text += "ducking:\n" + status.rules.map { "  \($0)\n" }.joined() }
        let s = status.statistics
        text += "mixer: \(s.periods) periods, \(s.underruns) underruns, \(s.outputErrors) output errors\n"
        return text
    }
}
