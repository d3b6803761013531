/// A device tree (devicetree.org specification v0.4) held in memory: nodes with
/// named properties and child nodes, written out as a DTB (`FlattenedDeviceTree`)
/// or as source (`DeviceTreeSource`).
public struct DeviceTreeNode: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case empty
        case cells([UInt32])
        case string(String)
        case strings([String])
        case bytes([UInt8])

        /// A 64-bit number as two cells, most significant first.
        public static func u64(_ v: UInt64) -> Value { .cells([UInt32(v >> 32), UInt32(truncatingIfNeeded: v)]) }

        /// The property's bytes as a DTB stores them (big-endian cells, NUL-terminated strings).
        var encoded: [UInt8] {
            switch self {
            case .empty: return []
            case let .cells(cells): return cells.flatMap { c in (0..<4).map { UInt8(truncatingIfNeeded: c >> (24 - 8 * $0)) } }
            case let .string(s): return Array(s.utf8) + [0]
            case let .strings(list): return list.flatMap { Array($0.utf8) + [0] }
            case let .bytes(b): return b
            }
        }
    }

    public var name: String
    public var properties: [(String, Value)]
    public var children: [DeviceTreeNode]

    public init(_ name: String, properties: [(String, Value)] = [], children: [DeviceTreeNode] = []) {
        self.name = name
        self.properties = properties
        self.children = children
    }

    public static func == (a: DeviceTreeNode, b: DeviceTreeNode) -> Bool {
        a.name == b.name && a.children == b.children && a.properties.count == b.properties.count
            && zip(a.properties, b.properties).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public func property(_ name: String) -> Value? { properties.first { $0.0 == name }?.1 }
    public func child(_ name: String) -> DeviceTreeNode? { children.first { $0.name == name } }
}
