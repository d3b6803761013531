import Synchronization

/// A host-only control socket that answers lines: a Unix socket (in a private state directory,
/// so only the host user reaches it) served by one thread, one connection at a time, each
/// with I/O timeouts, any number of request lines of at most `maxLine` bytes, one answer line
/// each. What a line means is the owner's (`answer`): the GPU server's display policy, the
/// sound server's volumes.
public final class LineControlServer: @unchecked Sendable {
    public static let ioTimeoutSeconds = 5

    private let listener: UnixListener
    private let maxLine: Int
    private let tooLong: [UInt8]
    private let answer: @Sendable ([UInt8]) -> [UInt8]
    private let stopped = Atomic<Bool>(false)
    /// Set once in `init`, joined once in `stop`.
    private var thread: OSThread?

    /// `answer` gets a line without its newline and returns the answer without one; a line
    /// longer than `maxLine` is answered `tooLong` and the connection closed.
    public init(path: String, threadName: String, maxLine: Int, tooLong: [UInt8],
                answer: @escaping @Sendable ([UInt8]) -> [UInt8]) throws(UnixListenerError) {
        listener = try UnixListener(path: path, backlog: 8)
        self.maxLine = maxLine
        self.tooLong = tooLong
        self.answer = answer
        do {
            thread = try OSThread(name: threadName) { [weak self, listener] in
                while let self, !self.stopped.load(ordering: .acquiring) {
                    guard let connection = try? listener.accept(waitingMilliseconds: 200) else { continue }
                    self.serve(connection)
                }
            }
        } catch {
            listener.removeFile()
            throw .system(error)
        }
    }

    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        thread?.join()
        listener.removeFile()
    }

    private func serve(_ connection: UnixSocket) {
        connection.descriptor.setSocketTimeouts(seconds: Self.ioTimeoutSeconds)
        var pending: [UInt8] = []
        while !stopped.load(ordering: .relaxed) {
            if let newline = pending.firstIndex(of: 0x0A) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                guard (try? connection.send(answer(line) + [0x0A])) != nil else { return }
                continue
            }
            guard pending.count <= maxLine else {
                _ = try? connection.send(tooLong + [0x0A])
                return
            }
            guard let piece = try? connection.receive(upTo: 4096), !piece.bytes.isEmpty else { return }
            pending += piece.bytes
        }
    }
}
