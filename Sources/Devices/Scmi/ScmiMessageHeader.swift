/// DEN0056 §4.1.2: the 32-bit little-endian header of every message: message id (bits 7:0),
/// message type (9:8), protocol id (17:10) and token (27:18); bits 31:28 are reserved.
/// A response echoes its command's header, so the agent matches it by token.
public struct ScmiMessageHeader: Sendable, Equatable {
    public var messageID: UInt8
    public var type: UInt8
    public var protocolID: UInt8
    public var token: UInt16

    public init(messageID: UInt8, type: UInt8 = ScmiMessageType.command.rawValue, protocolID: UInt8, token: UInt16 = 0) {
        self.messageID = messageID
        self.type = type & 0x3
        self.protocolID = protocolID
        self.token = token & 0x3FF
    }

    public init(raw: UInt32) {
        self.init(messageID: UInt8(raw & 0xFF), type: UInt8((raw >> 8) & 0x3), protocolID: UInt8((raw >> 10) & 0xFF),
                  token: UInt16((raw >> 18) & 0x3FF))
    }

    public var raw: UInt32 {
        UInt32(messageID) | UInt32(type & 0x3) << 8 | UInt32(protocolID) << 10 | UInt32(token & 0x3FF) << 18
    }

    public var protocolName: String {
        ScmiProtocolID(rawValue: protocolID).map { "\($0)" } ?? "0x" + String(protocolID, radix: 16)
    }
}

/// One command from the agent (the guest): its header and payload, bounded in size.
public struct ScmiCommand: Sendable, Equatable {
    public var header: ScmiMessageHeader
    public var payload: [UInt8]

    public init(header: ScmiMessageHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    /// DEN0056 §4.1.2: a header and at most `ScmiCodes.maxRequestPayload` bytes; only commands
    /// (type 0) travel agent → platform.
    public static func parse(_ bytes: [UInt8]) throws(ScmiMessageError) -> ScmiCommand {
        guard bytes.count >= 4 else { throw .tooShort(bytes.count) }
        guard bytes.count - 4 <= ScmiCodes.maxRequestPayload else { throw .tooLong(bytes.count) }
        let raw = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        let header = ScmiMessageHeader(raw: raw)
        guard header.type == ScmiMessageType.command.rawValue else { throw .notACommand(type: header.type) }
        return ScmiCommand(header: header, payload: Array(bytes[4...]))
    }
}

public enum ScmiMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case tooLong(Int)
    case notACommand(type: UInt8)
    case noRoomForResponse(writable: Int)

    public var description: String {
        switch self {
        case let .tooShort(n): "a message of \(n) bytes has no 4-byte header"
        case let .tooLong(n): "a command of \(n) bytes is longer than any SCMI command (\(4 + ScmiCodes.maxRequestPayload))"
        case let .notACommand(type): "message type \(type) is not a command"
        case let .noRoomForResponse(w): "the response buffer of \(w) bytes has no room for header and status"
        }
    }
}

/// Reads a command's little-endian parameters; a payload too short for them is PROTOCOL_ERROR
/// (DEN0056 §4.1.4: a message of the wrong length). Bytes beyond them are ignored.
public struct ScmiPayloadReader: Sendable {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public mutating func u32() throws(ScmiStatusError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw ScmiStatusError(.protocolError, "parameters end after \(bytes.count) bytes") }
        defer { offset += 4 }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}

/// A command refused with an SCMI status, and why (for the rate-limited log).
public struct ScmiStatusError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: ScmiStatus
    public var reason: String
    /// An answer, not a refusal: Linux asks PROTOCOL_MESSAGE_ATTRIBUTES of messages it may do
    /// without (notifications), so NOT_FOUND there is neither logged nor counted.
    public var expected: Bool

    public init(_ status: ScmiStatus, _ reason: String, expected: Bool = false) {
        self.status = status
        self.reason = reason
        self.expected = expected
    }

    public var description: String { "\(status): \(reason)" }
}

/// Builds a response payload: little-endian integers and fixed-size NUL-padded names.
public struct ScmiPayloadWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func u32(_ v: UInt32) { bytes += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
    public mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u64(_ v: UInt64) {
        u32(UInt32(truncatingIfNeeded: v))
        u32(UInt32(truncatingIfNeeded: v >> 32))
    }
    /// DEN0056 §4.1.2: a name in `size` bytes, NUL-terminated, truncated if longer.
    public mutating func name(_ s: String, size: Int = ScmiCodes.shortNameSize) {
        let utf8 = Array(s.utf8.prefix(size - 1))
        bytes += utf8 + [UInt8](repeating: 0, count: size - utf8.count)
    }
    public mutating func append(_ other: [UInt8]) { bytes += other }
}
