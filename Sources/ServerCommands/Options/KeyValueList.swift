import ArgumentParser
import VhostUser

/// One compound option value written as comma-separated `key=value` pairs and bare
/// flags (`name=ivi,cid=3,connect=/run/x.sock`; `ro,serial=X`): the one parser and
/// printer behind `--port`, `--vm` and `--disk`. Values must not contain ','.
public struct KeyValueList {
    /// Pairs in order; a flag has the value nil.
    public private(set) var pairs: [(key: String, value: String?)] = []
    /// What the whole value describes, for errors: "port 'name=ivi-1,...'".
    public let what: String

    public init(what: String) { self.what = what }

    /// Parses `text`, refusing a part that is neither `key=value` with a key of `known` nor one
    /// of `flags`, and a key given twice.
    public init(parsing text: String, what: String, known: [String], flags: [String] = []) throws {
        self.what = what
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            let key = kv.first ?? ""
            guard kv.count == 2 ? known.contains(key) : flags.contains(key) else {
                let names = known.map { $0 + "=" } + flags
                throw ValidationError("\(self.what): unknown option '\(UserText.shortened(String(part)))' (known: \(names.joined(separator: ", ")))")
            }
            guard !pairs.contains(where: { $0.key == key }) else { throw ValidationError("\(self.what): '\(key)' is given twice") }
            pairs.append((key, kv.count == 2 ? kv[1] : nil))
        }
    }

    public func value(_ key: String) -> String? { pairs.first { $0.key == key }?.value }
    public func has(_ flag: String) -> Bool { pairs.contains { $0.key == flag && $0.value == nil } }

    public func required(_ key: String) throws -> String {
        guard let v = value(key) else { throw ValidationError("\(what): \(key)= is missing") }
        return v
    }

    /// `listen=PATH` or `connect=PATH`, exactly one of them.
    public func endpoint() throws -> VhostUserServer.Endpoint {
        switch (value("listen"), value("connect")) {
        case let (path?, nil): return .listen(path)
        case let (nil, path?): return .connect(path)
        default: throw ValidationError("\(what): give listen=SOCKET or connect=SOCKET")
        }
    }

    public mutating func append(_ key: String, _ value: String) { pairs.append((key, value)) }
    public mutating func append(flag: String) { pairs.append((flag, nil)) }

    public mutating func append(_ endpoint: VhostUserServer.Endpoint) {
        switch endpoint {
        case let .listen(path): append("listen", path)
        case let .connect(path): append("connect", path)
        }
    }

    public var text: String { pairs.map { pair in pair.value.map { "\(pair.key)=\($0)" } ?? pair.key }.joined(separator: ",") }
}
