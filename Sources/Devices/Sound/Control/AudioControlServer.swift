import Logging
import SystemCalls

/// The sound server's control socket: the host reads the mixer's state and changes a VM's
/// volume or mute while the VMs run (`avp audio`). A `LineControlServer` of
/// `AudioControlRequest` lines.
public final class AudioControlServer: @unchecked Sendable {
    private let mixer: SoundMixer
    private let logger: Logger
    /// Set once in `init`.
    private var server: LineControlServer?

    public init(path: String, mixer: SoundMixer, logger: Logger) throws {
        self.mixer = mixer
        self.logger = logger
        server = try LineControlServer(path: path, threadName: "avp-snd-control", maxLine: AudioControlRequest.maxLine,
                                       tooLong: AudioControlResponse.refused(reason: AudioControlError.lineTooLong.description).line) {
            [weak self] line in self?.answer(line).line ?? []
        }
    }

    public func stop() { server?.stop() }

    /// Carries out one request line.
    func answer(_ line: [UInt8]) -> AudioControlResponse {
        do {
            switch try AudioControlRequest(line: line) {
            case .show: break
            case .levels: return .levels(mixer.levels)
            case let .volume(vm, decibels):
                try mixer.setVolume(of: vm, decibels: decibels)
                logger.notice("sound: VM '\(vm)': volume \(AudioVM.text(decibels)) dB, by the host's control socket")
            case let .mute(vm, muted):
                try mixer.setMuted(vm, muted)
                logger.notice("sound: VM '\(vm)': \(muted ? "muted" : "unmuted"), by the host's control socket")
            }
            return .status(mixer.status)
        } catch {
            return .refused(reason: error.description)
        }
    }
}
