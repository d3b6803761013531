/// What the host asks a GPIO server's control socket (`avp gpio`): the lines, one line's level,
/// a simulated line's new level, or the changes since a sequence number (`watch` polls these).
/// Guests have no path here: the socket is in the platform's private state directory.
///
/// One JSON object per line each way (`JSONLine`), at most `maxLine` bytes.
public enum GpioControlRequest: Codable, Sendable, Equatable {
    case list
    case get(line: String)
    case set(line: String, value: Bool)
    case changes(after: UInt64)

    public static let maxLine = 1024

    public init(line: [UInt8]) throws(GpioControlError) {
        guard line.count <= Self.maxLine else { throw .lineTooLong }
        guard let request = JSONLine.decode(Self.self, from: line, maxLine: Self.maxLine) else { throw .malformedRequest }
        self = request
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

/// The answer: the lines asked about (after a change), the changes, or why it was refused.
public enum GpioControlResponse: Codable, Sendable, Equatable {
    case lines([GpioLineStatus])
    case changes(GpioChanges)
    case refused(reason: String)

    public init(line: [UInt8]) throws(GpioControlError) {
        guard let response = JSONLine.decode(Self.self, from: line, maxLine: 1 << 20) else { throw .malformedResponse }
        self = response
    }

    public var line: [UInt8] { JSONLine.encode(self) }
}

public enum GpioControlError: Error, Sendable, Equatable, CustomStringConvertible {
    case lineTooLong
    case malformedRequest
    case malformedResponse
    case unknownLine(String, known: [String])

    public var description: String {
        switch self {
        case .lineTooLong: "a control request is one line of at most \(GpioControlRequest.maxLine) bytes"
        case .malformedRequest: "the control request is not a GPIO request (JSON: list, get, set or changes)"
        case .malformedResponse: "the GPIO server's answer is not a GPIO control response"
        case let .unknownLine(name, known): "no line '\(name)' here; lines: \(known.joined(separator: ", "))"
        }
    }
}
