import CALSA
#if canImport(Glibc)
import Glibc
#endif

/// One open ALSA PCM, playback or capture, in one AVP format: the Swift face of `CALSA`,
/// which turns ALSA's error codes into `SoundHostError`s that name the device and say what
/// it would not do. The sound server's ALSA output and source own one each per use; neither
/// policy (pacing, counting) nor locking lives here.
///
/// Not thread-safe, hence unchecked: an ALSA handle is used by one thread at a time, and its
/// owner serializes every use under its own lock (`ALSAOutput`'s, a capture port's).
final class ALSAPCM: @unchecked Sendable {
    enum Direction: String, Sendable {
        case playback
        case capture
    }

    let device: String
    let direction: Direction
    let format: PCMStreamFormat
    /// What the device granted: the period it wakes at, and its whole buffer, in frames.
    let periodFrames: Int
    let bufferFrames: Int
    private var handle: OpaquePointer?

    /// "ALSA playback device 'hw:0,0'": how messages name it.
    var name: String { "ALSA \(direction.rawValue) device '\(device)'" }

    /// Opens `device` in exactly `format`; a period and buffer near those asked for.
    /// `configuration` is ALSA configuration text merged into the host's for this open only.
    init(device: String, direction: Direction, format: PCMStreamFormat, periodFrames: Int, bufferFrames: Int,
         configuration: String? = nil) throws(SoundHostError) {
        self.device = device
        self.direction = direction
        self.format = format
        var period = UInt(max(1, periodFrames)), buffer = UInt(max(periodFrames * 2, bufferFrames))
        var step: UnsafePointer<CChar>?
        var opened: OpaquePointer?
        let err = avp_alsa_open(&opened, device, configuration, direction == .capture ? 1 : 0,
                                Self.code(format.sample), UInt32(format.rate), UInt32(format.channels),
                                &period, &buffer, &step)
        guard err >= 0, let opened else {
            throw Self.openError(err, step: step.map { String(cString: $0) } ?? "open",
                                 name: "ALSA \(direction.rawValue) device '\(device)'", format: format)
        }
        handle = opened
        self.periodFrames = Int(period)
        self.bufferFrames = Int(buffer)
    }

    deinit { close(drain: false) }

    /// Writes all of `frames` (whole frames), blocking while the device is full. Returns the
    /// underruns ALSA reported and `snd_pcm_recover` got over on the way.
    func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) -> Int {
        guard let handle else { throw .closed }
        let count = frames.count / format.frameBytes
        guard count > 0, let base = frames.baseAddress else { return 0 }
        var underruns: UInt = 0
        let written = avp_alsa_write(handle, base, UInt(count), &underruns)
        if written < 0 { throw transferError("write", Int32(written)) }
        return Int(underruns)
    }

    /// Capture: frames ready now (the first call starts the device), and overruns recovered.
    func available() throws(SoundHostError) -> (frames: Int, overruns: Int) {
        guard let handle else { throw .closed }
        var overruns: UInt = 0
        let frames = avp_alsa_available(handle, &overruns)
        if frames < 0 { throw transferError("query", Int32(frames)) }
        return (frames, Int(overruns))
    }

    /// Capture: discards up to `frames` of the oldest frames ready; returns how many went.
    func skip(_ frames: Int) throws(SoundHostError) -> Int {
        guard let handle else { throw .closed }
        let skipped = avp_alsa_skip(handle, UInt(frames))
        if skipped < 0 { throw transferError("skip frames of", Int32(skipped)) }
        return skipped
    }

    /// Capture: reads up to `frames` frames into the front of `buffer` without blocking.
    func read(into buffer: UnsafeMutableRawBufferPointer, frames: Int) throws(SoundHostError) -> (frames: Int, overruns: Int) {
        guard let handle else { throw .closed }
        precondition(frames * format.frameBytes <= buffer.count)
        guard frames > 0, let base = buffer.baseAddress else { return (0, 0) }
        var overruns: UInt = 0
        let read = avp_alsa_read(handle, base, UInt(frames), &overruns)
        if read < 0 { throw transferError("read", Int32(read)) }
        return (read, Int(overruns))
    }

    /// Frames between the application's side of the buffer and the converter (snd_pcm_delay).
    var delayFrames: Int {
        guard let handle else { return 0 }
        return avp_alsa_delay(handle)
    }

    /// Closes the device; with `drain`, a playback device first plays what it holds.
    func close(drain: Bool) {
        guard let handle else { return }
        self.handle = nil
        avp_alsa_close(handle, drain ? 1 : 0)
    }

    private func transferError(_ verb: String, _ err: Int32) -> SoundHostError {
        .io("\(name): cannot \(verb) frames: \(Self.text(err))")
    }

    private static func code(_ sample: PCMSampleFormat) -> Int32 {
        switch sample {
        case .s16: Int32(AVP_ALSA_S16_LE.rawValue)
        case .s32: Int32(AVP_ALSA_S32_LE.rawValue)
        case .float: Int32(AVP_ALSA_FLOAT_LE.rawValue)
        }
    }

    /// ALSA's text for an error, with the diagnostic it logged on this thread (which says
    /// more: "Unknown PCM x" where the code says only ENOENT).
    private static func text(_ err: Int32) -> String {
        let text = String(cString: avp_alsa_strerror(err))
        let detail = String(cString: avp_alsa_last_message())
        return detail.isEmpty || detail == text ? text : "\(text) (\(detail))"
    }

    /// Why an open failed, in the user's terms: a device in use is `.busy` (another program,
    /// or a hw device another stream has: only dsnoop/dmix/default share); a format the device
    /// refuses names the value and the way out (a plug device converts).
    static func openError(_ err: Int32, step: String, name: String, format: PCMStreamFormat) -> SoundHostError {
        let text = text(err)
        if err == -EBUSY {
            return .busy("\(name) is in use (by another program or stream; 'default' or a dsnoop/dmix device shares it): \(text)")
        }
        let refused: String? = switch step {
        case "sample format": "does not take \(format.sample) samples"
        case "channels": "does not take \(format.channels) channels"
        case "rate": "does not take \(format.rate) Hz"
        default: nil
        }
        if let refused {
            return .io("\(name) \(refused) (a 'plughw:' or 'default' device converts): \(text)")
        }
        if step == "open" { return .io("cannot open \(name): \(text)") }
        return .io("\(name): cannot set the \(step): \(text)")
    }
}
