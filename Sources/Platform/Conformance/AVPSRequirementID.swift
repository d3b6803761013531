/// The name of one AVPS v2.0 requirement as test names cite it: `AVPS-v2.0-40`, or, for a
/// requirement the specification lists as pending without a number, `AVPS-v2.0-PENDING-SND`.
public enum AVPSRequirementID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// `{AVPS-v2.0-N}`, 1...50 in the specification.
    case numbered(Int)
    /// A "[PENDING]" requirement of the specification, named by AVP (`SND` for §2.9's VIRTIO-sound one).
    case pending(String)

    /// What every id starts with.
    public static let prefix = "AVPS-v2.0-"

    public var description: String {
        switch self {
        case let .numbered(n): Self.prefix + String(n)
        case let .pending(name): Self.prefix + "PENDING-" + name
        }
    }

    /// The number of a numbered requirement (what a probe report cites), nil for a pending one.
    public var number: Int? {
        if case let .numbered(n) = self { return n }
        return nil
    }

    /// Numbered ones in order, then the pending ones by name.
    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case let (.numbered(x), .numbered(y)): x < y
        case (.numbered, .pending): true
        case (.pending, .numbered): false
        case let (.pending(x), .pending(y)): x < y
        }
    }

    /// Parses a whole id ("AVPS-v2.0-7", "AVPS-v2.0-PENDING-SND"); nil for anything else.
    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let rest = text.dropFirst(Self.prefix.count)
        if let n = Int(rest), n > 0, String(n) == rest {
            self = .numbered(n)
        } else if rest.hasPrefix("PENDING-") {
            let name = rest.dropFirst("PENDING-".count)
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else { return nil }
            self = .pending(String(name))
        } else {
            return nil
        }
    }
}
