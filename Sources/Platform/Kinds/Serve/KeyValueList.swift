import ArgumentParser
import VhostUser

/// One compound option value written as comma-separated `key=value` pairs
/// (`name=ivi,cid=3,connect=/run/x.sock`): the one parser and printer behind
/// `--port` and `--vm`. Values must not contain ','.
struct KeyValueList {
    private(set) var pairs: [(key: String, value: String)] = []
    /// What the whole value describes, for errors ("port 'ivi-1'").
    let what: String

    init(what: String) { self.what = what }

    /// Parses `text`, refusing a part without '=', a repeated key and keys outside `known`.
    init(parsing text: String, what: String, known: [String]) throws {
        self.what = "\(what) \(UserText.quoted(text))"
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty else { throw ValidationError("\(self.what): '\(part)' is not key=value") }
            guard known.contains(kv[0]) else {
                throw ValidationError("\(self.what): unknown key '\(kv[0])' (known: \(known.joined(separator: ", ")))")
            }
            guard value(kv[0]) == nil else { throw ValidationError("\(self.what): '\(kv[0])' is given twice") }
            pairs.append((kv[0], kv[1]))
        }
    }

    func value(_ key: String) -> String? { pairs.first { $0.key == key }?.value }

    func required(_ key: String) throws -> String {
        guard let v = value(key) else { throw ValidationError("\(what): \(key)= is missing") }
        return v
    }

    /// `listen=PATH` or `connect=PATH`, exactly one of them.
    func endpoint() throws -> VhostUserServer.Endpoint {
        switch (value("listen"), value("connect")) {
        case let (path?, nil): return .listen(path)
        case let (nil, path?): return .connect(path)
        default: throw ValidationError("\(what): give listen=SOCKET or connect=SOCKET")
        }
    }

    mutating func append(_ key: String, _ value: String) { pairs.append((key, value)) }

    mutating func append(_ endpoint: VhostUserServer.Endpoint) {
        switch endpoint {
        case let .listen(path): append("listen", path)
        case let .connect(path): append("connect", path)
        }
    }

    var text: String { pairs.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
}
