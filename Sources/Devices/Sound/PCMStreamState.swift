/// A PCM command of the control queue, once its parameters (if any) were validated.
public enum PCMCommand: Sendable, Equatable, CustomStringConvertible {
    case setParameters(PCMParameters)
    case prepare, start, stop, release

    public var description: String {
        switch self {
        case .setParameters: "SET_PARAMS"
        case .prepare: "PREPARE"
        case .start: "START"
        case .stop: "STOP"
        case .release: "RELEASE"
        }
    }
}

/// The command lifecycle of one PCM stream (VIRTIO 1.2 §5.14.6.6.1, "PCM Command Lifecycle"):
///
///     SET_PARAMS → set parameters, prepare
///     PREPARE    → set parameters, prepare, start, release
///     START      → stop
///     STOP       → start, release
///     RELEASE    → set parameters, prepare
///
/// Any other command in a state is BAD_MSG and leaves the state as it was. RELEASE keeps the
/// parameters (a PREPARE may follow it directly), so it returns to `configured`.
public enum PCMStreamState: Sendable, Equatable, CustomStringConvertible {
    /// No parameters yet (after a device reset).
    case idle
    /// Parameters set (or the stream released): no resources, no transfers.
    case configured(PCMParameters)
    /// Ready: an output stream takes transfers to pre-buffer, an input stream its first buffers.
    case prepared(PCMParameters)
    /// The stream's clock runs: transfers complete in real time.
    case running(PCMParameters)
    /// Stopped after running: transfers wait (a paused ALSA stream may still write) for START or RELEASE.
    case paused(PCMParameters)

    /// The state `command` leads to, or BAD_MSG if the lifecycle does not allow it here.
    public func after(_ command: PCMCommand) throws(SoundStatus) -> PCMStreamState {
        switch (self, command) {
        case let (.idle, .setParameters(p)), let (.configured, .setParameters(p)), let (.prepared, .setParameters(p)):
            return .configured(p)
        case let (.configured(p), .prepare), let (.prepared(p), .prepare):
            return .prepared(p)
        case let (.prepared(p), .start), let (.paused(p), .start):
            return .running(p)
        case let (.running(p), .stop):
            return .paused(p)
        case let (.prepared(p), .release), let (.paused(p), .release):
            return .configured(p)
        default:
            throw .badMessage
        }
    }

    /// The parameters under which I/O messages are taken: prepared, running or paused.
    public var transferParameters: PCMParameters? {
        switch self {
        case let .prepared(p), let .running(p), let .paused(p): p
        case .idle, .configured: nil
        }
    }

    public var parameters: PCMParameters? {
        switch self {
        case .idle: nil
        case let .configured(p), let .prepared(p), let .running(p), let .paused(p): p
        }
    }

    public var description: String {
        switch self {
        case .idle: "idle"
        case .configured: "configured"
        case .prepared: "prepared"
        case .running: "running"
        case .paused: "stopped"
        }
    }
}
