#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SystemCalls

/// The mixer's output into a WAV file of one fixed format: what the host would have heard,
/// silence included, in real time (the mixer's clock paces it). The RIFF header's sizes are
/// rewritten at most every `headerInterval` seconds while frames arrive and on close, so a
/// crash loses at most that much of the header's count, never the samples (a reader may also
/// take the data to the end of the file, as `WAVHeader.parse` does).
///
/// Bounded by what RIFF can describe (4 GiB); past that, frames are dropped and logged once.
public final class WAVFileOutput: SoundOutput, @unchecked Sendable {
    public let path: String
    public let format: PCMStreamFormat
    /// Seconds between header updates while recording.
    public static let headerInterval = 0.25

    private struct State {
        var file: FileDescriptor?
        var dataBytes = 0
        var headerWrittenAt = 0.0
        var headerStale = false
        var full = false
    }
    private let state = Mutex(State())
    private let logger: Logger

    /// Creates (or truncates) `path` and writes an empty file's header.
    public init(path: String, format: PCMStreamFormat, logger: Logger) throws(SoundHostError) {
        self.path = path
        self.format = format
        self.logger = logger
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)
            try file.writeAll(WAVHeader(format: format, dataBytes: 0).bytes)
        } catch {
            throw .io("\(path): \(error)")
        }
        state.withLock { $0.file = file }
    }

    /// Bytes of samples recorded so far.
    public var dataBytes: Int { state.withLock { $0.dataBytes } }

    public var keepsTime: Bool { false }
    public var delayFrames: Int { 0 }

    public func write(_ frames: UnsafeRawBufferPointer) throws(SoundHostError) {
        try append(frames)
    }

    /// Writes the final header and closes the file; later writes fail.
    public func close() {
        state.withLock { s in
            writeHeader(&s)
            s.file?.close()
            s.file = nil
        }
    }

    deinit { close() }

    private func append(_ bytes: UnsafeRawBufferPointer) throws(SoundHostError) {
        let warnFull = try state.withLock { (s) throws(SoundHostError) -> Bool in
            guard let file = s.file else { throw .closed }
            guard s.dataBytes + bytes.count <= WAVHeader.maxDataBytes else {
                defer { s.full = true }
                return !s.full
            }
            do { try file.writeAll(bytes) } catch { throw .io("\(path): \(error)") }
            s.dataBytes += bytes.count
            s.headerStale = true
            if MonotonicClock.seconds() - s.headerWrittenAt >= Self.headerInterval { writeHeader(&s) }
            return false
        }
        if warnFull { logger.warning("sound: \(path) holds the 4 GiB a WAV file can; further frames are dropped") }
    }

    private func writeHeader(_ s: inout State) {
        guard let file = s.file, s.headerStale || s.headerWrittenAt == 0 else { return }
        let header = WAVHeader(format: format, dataBytes: UInt32(s.dataBytes)).bytes
        let written = header.withUnsafeBytes { pwrite(file.rawValue, $0.baseAddress, $0.count, 0) }
        if written != header.count { logger.warning("sound: \(path): cannot update the WAV header: \(Errno.current("pwrite"))") }
        s.headerStale = false
        s.headerWrittenAt = MonotonicClock.seconds()
    }
}
