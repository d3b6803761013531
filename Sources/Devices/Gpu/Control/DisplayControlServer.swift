import Logging
import Synchronization
import SystemCalls

/// The GPU server's control socket: the host changes a display's policy while the VMs run
/// (`avp display`, {AVPS-v2.0-29}). A Unix socket in the platform's state directory, so only
/// the host user reaches it. One thread; one connection at a time, each with I/O timeouts,
/// any number of request lines (`DisplayControlRequest`), one response line each.
///
/// A change lasts until the GPU server restarts; the platform file is the policy it starts
/// with.
public final class DisplayControlServer: @unchecked Sendable {
    public static let ioTimeoutSeconds = 5

    private let listener: UnixListener
    private let compositor: Compositor
    private let logger: Logger
    private let stopped = Atomic<Bool>(false)
    /// Set once in `init`, joined once in `stop`.
    private var thread: OSThread?

    public init(path: String, compositor: Compositor, logger: Logger) throws {
        listener = try UnixListener(path: path, backlog: 8)
        self.compositor = compositor
        self.logger = logger
        thread = try OSThread(name: "avp-gpu-control") { [weak self, listener] in
            while let self, !self.stopped.load(ordering: .acquiring) {
                guard let connection = try? listener.accept(waitingMilliseconds: 200) else { continue }
                self.serve(connection)
            }
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
                guard (try? connection.send(answer(line).line)) != nil else { return }
                continue
            }
            guard pending.count <= DisplayControlRequest.maxLine else {
                _ = try? connection.send(DisplayControlResponse.refused(reason: DisplayControlError.lineTooLong.description).line)
                return
            }
            guard let piece = try? connection.receive(upTo: 4096), !piece.bytes.isEmpty else { return }
            pending += piece.bytes
        }
    }

    /// Carries out one request line.
    func answer(_ line: [UInt8]) -> DisplayControlResponse {
        let request: DisplayControlRequest
        do { request = try DisplayControlRequest(line: line) } catch { return .refused(reason: error.description) }
        guard let policy = compositor.policy(request.display) else {
            return .refused(reason: DisplayPolicyError.unknownDisplay(request.display).description)
        }
        switch request {
        case .show:
            return .policy(summary: DisplayPolicySummary(policy))
        case let .change(display, layer, change):
            do {
                let changed = try change.applied(to: policy, layer: layer)
                try compositor.setPolicy(changed)
                logger.notice("display '\(display)': layer \(layer) (\(policy.layers[layer].source)): \(change), by the host's control socket")
                return .policy(summary: DisplayPolicySummary(changed))
            } catch let error as DisplayControlError {
                return .refused(reason: error.description)
            } catch {
                return .refused(reason: "\(error)")
            }
        }
    }
}
