import Foundation

/// One message QEMU sends on a QMP monitor (QEMU's docs/interop/qmp-spec.rst, "Server
/// Responses"): the greeting, a command's success or error, or an asynchronous event.
/// Parsed from one line by a pure function, so it is unit-tested and fuzzed alone
/// (fuzz/QmpFuzz.swift compiles this file on its own: it imports Foundation only).
///
/// QEMU is trusted more than a guest but its events carry guest-chosen data (a panic's
/// message, a device's id), so nothing here trusts the shape: a line that is not one
/// of these objects is a `QmpError`, never a trap.
public enum QmpMessage: Sendable, Equatable {
    /// `{"QMP": {"version": {"qemu": {"major": 10, "minor": 0, ...}}, "capabilities": [...]}}`:
    /// sent once on connection; the client answers `qmp_capabilities`.
    case greeting(major: Int?, minor: Int?)
    /// `{"return": ..., "id": ...}`.
    case success(id: String?)
    /// `{"error": {"class": ..., "desc": ...}, "id": ...}`.
    case failure(id: String?, errorClass: String, description: String)
    /// `{"event": NAME, "data": {...}, "timestamp": {...}}`; `data` keeps the string-valued
    /// members only (what AVP reads: WATCHDOG's `action`).
    case event(name: String, data: [String: String])

    /// The command that ends capability negotiation (qmp-spec.rst, "Capabilities Negotiation").
    public static let capabilitiesCommand = Array(#"{"execute": "qmp_capabilities"}"#.utf8) + [0x0D, 0x0A]

    /// Longest text kept from a name or string member, in UTF-8 bytes.
    static let maxString = 256

    /// Parses one line (without its line ending).
    public init(line: some Collection<UInt8>) throws(QmpError) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line), options: [])) as? [String: Any] else {
            throw .notAnObject
        }
        if let qmp = object["QMP"] {
            guard let qmp = qmp as? [String: Any] else { throw .malformed("QMP") }
            let qemu = (qmp["version"] as? [String: Any])?["qemu"] as? [String: Any]
            self = .greeting(major: Self.integer(qemu?["major"]), minor: Self.integer(qemu?["minor"]))
        } else if let name = object["event"] {
            guard let name = name as? String, !name.isEmpty else { throw .malformed("event") }
            var data: [String: String] = [:]
            if let members = object["data"] {
                guard let members = members as? [String: Any] else { throw .malformed("data") }
                for (key, value) in members {
                    if let text = value as? String { data[Self.cut(key)] = Self.cut(text) }
                }
            }
            self = .event(name: Self.cut(name), data: data)
        } else if object["return"] != nil {
            self = .success(id: Self.id(object["id"]))
        } else if let error = object["error"] {
            guard let error = error as? [String: Any] else { throw .malformed("error") }
            self = .failure(id: Self.id(object["id"]), errorClass: Self.cut(error["class"] as? String ?? ""),
                            description: Self.cut(error["desc"] as? String ?? ""))
        } else {
            throw .unknownMessage
        }
    }

    /// JSONSerialization gives numbers as NSNumber; a whole number that fits an Int, else nil.
    private static func integer(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, let exact = Int(exactly: number.doubleValue) else { return nil }
        return exact
    }

    private static func id(_ value: Any?) -> String? {
        if let text = value as? String { return cut(text) }
        return integer(value).map(String.init)
    }

    private static func cut(_ text: String) -> String {
        text.utf8.count <= maxString ? text : String(decoding: text.utf8.prefix(maxString), as: UTF8.self)
    }
}

public enum QmpError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not JSON, or JSON that is not an object.
    case notAnObject
    /// The member that decides the message's kind has the wrong type.
    case malformed(String)
    /// An object with none of QMP, event, return or error.
    case unknownMessage
    /// A line longer than `QmpLineReader.maxLine` (it is skipped up to its end).
    case lineTooLong(Int)

    public var description: String {
        switch self {
        case .notAnObject: "a line that is not a JSON object"
        case let .malformed(member): "'\(member)' of the wrong type"
        case .unknownMessage: "an object that is no QMP message"
        case let .lineTooLong(limit): "a line longer than \(limit) bytes"
        }
    }
}

/// Cuts QEMU's byte stream into lines (QMP ends each message with CRLF) and parses them, keeping
/// at most `maxLine` bytes: a longer line is reported once and skipped up to its end.
public struct QmpLineReader: Sendable {
    public static let maxLine = 64 << 10

    private var pending: [UInt8] = []
    private var skipping = false

    public init() {}

    /// The messages (or errors) of every line `bytes` completes, in order.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Result<QmpMessage, QmpError>] {
        var results: [Result<QmpMessage, QmpError>] = []
        for byte in bytes {
            if byte == 0x0A {
                if skipping {
                    skipping = false
                } else {
                    if pending.last == 0x0D { pending.removeLast() }
                    // Blank lines carry nothing.
                    if !pending.isEmpty { results.append(Result { () throws(QmpError) in try QmpMessage(line: pending) }) }
                }
                pending.removeAll(keepingCapacity: true)
            } else if !skipping {
                if pending.count == Self.maxLine {
                    results.append(.failure(.lineTooLong(Self.maxLine)))
                    pending.removeAll(keepingCapacity: true)
                    skipping = true
                } else {
                    pending.append(byte)
                }
            }
        }
        return results
    }
}
