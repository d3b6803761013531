import Logging
import SystemCalls

/// The GPU server's control socket: the host changes a display's policy while the VMs run
/// (`avp display`, {AVPS-v2.0-29}). A Unix socket in the platform's state directory, so only
/// the host user reaches it (`LineControlServer`): request lines (`DisplayControlRequest`),
/// one response line each.
///
/// A change lasts until the GPU server restarts; the platform file is the policy it starts
/// with.
public final class DisplayControlServer: @unchecked Sendable {
    private let compositor: Compositor
    private let logger: Logger
    /// Set once in `init`.
    private var server: LineControlServer?

    public init(path: String, compositor: Compositor, logger: Logger) throws {
        self.compositor = compositor
        self.logger = logger
        server = try LineControlServer(path: path, threadName: "avp-gpu-control", maxLine: DisplayControlRequest.maxLine,
                                       tooLong: DisplayControlResponse.refused(reason: DisplayControlError.lineTooLong.description).line) {
            [weak self] line in self?.answer(line).line ?? []
        }
    }

    public func stop() { server?.stop() }

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
