/// One stretch of a uid or gid mapping: guest ids `guest ..< guest + count` are host ids
/// `host ..< host + count` — the shape of `/proc/PID/uid_map` lines and of
/// `--uid-map GUEST:HOST:COUNT`.
public struct IdRange: Sendable, Equatable, CustomStringConvertible {
    public let guest: UInt32
    public let host: UInt32
    public let count: UInt32

    public init(guest: UInt32, host: UInt32, count: UInt32) throws(IdMapError) {
        guard count > 0 else { throw .emptyRange }
        guard UInt64(guest) + UInt64(count) <= 1 << 32, UInt64(host) + UInt64(count) <= 1 << 32 else { throw .beyondIdSpace }
        self.guest = guest
        self.host = host
        self.count = count
    }

    /// "GUEST:HOST:COUNT", decimal.
    public init(parsing text: String) throws(IdMapError) {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 3, let g = UInt32(fields[0]), let h = UInt32(fields[1]), let c = UInt32(fields[2]) else {
            throw .malformed(text)
        }
        try self.init(guest: g, host: h, count: c)
    }

    public var description: String { "\(guest):\(host):\(count)" }

    func host(forGuest id: UInt32) -> UInt32? {
        id >= guest && id - guest < count ? host + (id - guest) : nil
    }

    func guest(forHost id: UInt32) -> UInt32? {
        id >= host && id - host < count ? guest + (id - host) : nil
    }

    func overlaps(_ other: IdRange, on side: KeyPath<IdRange, UInt32>) -> Bool {
        let a = UInt64(self[keyPath: side]), b = UInt64(other[keyPath: side])
        return a < b + UInt64(other.count) && b < a + UInt64(count)
    }
}

/// How a share translates user or group ids between a guest and the host, as a user namespace
/// does: `identity` (the guest's ids are the host's), or ranges, where a host id outside every
/// range shows in the guest as `overflow` (65534, "nobody") and a guest id outside them has no
/// host id at all — so with `0:100000:65536` the guest's root owns host files as 100000 and never
/// as the host's root.
public enum IdMap: Sendable, Equatable, CustomStringConvertible {
    case identity
    case ranges([IdRange])

    /// What a host id without a guest id looks like in the guest (Linux's overflowuid).
    public static let overflow: UInt32 = 65534

    /// Ranges whose guest ids do not overlap, nor their host ids (a mapping both ways).
    public init(_ ranges: [IdRange]) throws(IdMapError) {
        guard !ranges.isEmpty else { self = .identity; return }
        for (i, a) in ranges.enumerated() {
            for b in ranges[(i + 1)...] {
                if a.overlaps(b, on: \.guest) { throw .overlapping(a, b, side: "guest") }
                if a.overlaps(b, on: \.host) { throw .overlapping(a, b, side: "host") }
            }
        }
        self = .ranges(ranges)
    }

    /// "GUEST:HOST:COUNT" entries, e.g. ["0:100000:65536"]; none: identity.
    public init(parsing entries: [String]) throws(IdMapError) {
        var ranges: [IdRange] = []
        for entry in entries { ranges.append(try IdRange(parsing: entry)) }
        try self.init(ranges)
    }

    /// The host id a guest id acts as; nil when the guest id is not mapped.
    public func host(forGuest id: UInt32) -> UInt32? {
        switch self {
        case .identity: return id
        case let .ranges(ranges):
            for range in ranges { if let host = range.host(forGuest: id) { return host } }
            return nil
        }
    }

    /// The id a guest sees for a host id: `overflow` when it is not mapped.
    public func guest(forHost id: UInt32) -> UInt32 {
        switch self {
        case .identity: return id
        case let .ranges(ranges):
            for range in ranges { if let guest = range.guest(forHost: id) { return guest } }
            return Self.overflow
        }
    }

    public var arguments: [String] {
        switch self {
        case .identity: []
        case let .ranges(ranges): ranges.map(\.description)
        }
    }

    public var description: String {
        switch self {
        case .identity: "identity"
        case let .ranges(ranges): ranges.map(\.description).joined(separator: ",")
        }
    }
}

public enum IdMapError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case emptyRange
    case beyondIdSpace
    case overlapping(IdRange, IdRange, side: String)

    public var description: String {
        switch self {
        case let .malformed(text): "\(text.debugDescription) is not GUEST:HOST:COUNT (three decimal numbers)"
        case .emptyRange: "a range maps at least one id (COUNT > 0)"
        case .beyondIdSpace: "a range ends beyond id 4294967295"
        case let .overlapping(a, b, side): "the ranges \(a) and \(b) overlap on the \(side) side"
        }
    }
}
