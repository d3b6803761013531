/// What the host asks an SCMI server's control socket (`avp scmi`): the state of everything it
/// serves, a simulated signal's value (set until cleared), or a performance domain's host limit.
/// Guests have no path here: the socket is in the platform's private state directory.
///
/// One JSON object per line each way (`JSONLine`), at most `maxLine` bytes.
public enum ScmiControlRequest: Codable, Sendable, Equatable {
    case status
    case set(signal: String, value: Double)
    case clear(signal: String)
    /// nil: no limit.
    case limit(domain: String, level: UInt32?)

    public static let maxLine = 1024

    public init(line: [UInt8]) throws(ScmiControlError) {
        guard line.count <= Self.maxLine else { throw .lineTooLong }
        guard let request = JSONLine.decode(Self.self, from: line, maxLine: Self.maxLine) else { throw .malformedRequest }
        self = request
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// The answer: the server's state (after a change), or why the request was refused.
public enum ScmiControlResponse: Codable, Sendable, Equatable {
    case status(ScmiStatusReport)
    case refused(reason: String)

    public init(line: [UInt8]) throws(ScmiControlError) {
        guard let response = JSONLine.decode(Self.self, from: line, maxLine: 1 << 20) else { throw .malformedResponse }
        self = response
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// Everything an SCMI server serves, as the host sees it.
public struct ScmiStatusReport: Codable, Sendable, Equatable {
    public struct Sensor: Codable, Sendable, Equatable {
        public var name: String
        public var unit: ScmiSensorUnit
        public var origin: String
        /// nil if its source failed.
        public var value: Double?
    }

    public struct Signal: Codable, Sendable, Equatable {
        public var name: String
        public var value: Double?
        /// Set by the host (`avp scmi set`) rather than played from the trace.
        public var set: Bool
    }

    public struct PerformanceDomain: Codable, Sendable, Equatable {
        public var name: String
        public var levels: [UInt32]
        public var level: UInt32
        public var limit: UInt32?
        /// Each VM's requested level.
        public var requests: [String: UInt32]
    }

    public struct Domain: Codable, Sendable, Equatable {
        public var name: String
        /// Power: on; reset: nil.
        public var on: Bool?
        /// Reset: resets so far.
        public var resets: Int?
    }

    public var sensors: [Sensor]
    public var signals: [Signal]
    public var performance: [PerformanceDomain]
    public var power: [Domain]
    public var reset: [Domain]
}

public enum ScmiControlError: Error, Sendable, Equatable, CustomStringConvertible {
    case lineTooLong
    case malformedRequest
    case malformedResponse
    case unknown(what: String, name: String, known: [String])
    case noSignals

    public var description: String {
        switch self {
        case .lineTooLong: "a control request is one line of at most \(ScmiControlRequest.maxLine) bytes"
        case .malformedRequest: "the control request is not an SCMI request (JSON: status, set, clear or limit)"
        case .malformedResponse: "the SCMI server's answer is not an SCMI control response"
        case let .unknown(what, name, known):
            "no \(what) '\(name)' here; \(what)s: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        case .noSignals: "this SCMI server has no simulated signals"
        }
    }
}
