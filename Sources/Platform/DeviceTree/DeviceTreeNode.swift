/// A device tree (devicetree.org specification v0.4) held in memory: nodes with
/// named properties and child nodes, written out as a DTB (`FlattenedDeviceTree`)
/// or as source (`DeviceTreeSource`). A node may carry a label; properties refer to
/// labelled nodes with `.references`, which become phandles when the tree is written
/// (§2.3.3: `phandle`, a cell unique in the tree).
public struct DeviceTreeNode: Sendable, Equatable {
    /// One cell of a property that may name other nodes (`clocks = <&scmi_perf 0>`).
    public enum Cell: Sendable, Equatable {
        case number(UInt32)
        /// The phandle of the node with this label.
        case reference(String)
    }

    public enum Value: Sendable, Equatable {
        case empty
        case cells([UInt32])
        case string(String)
        case strings([String])
        case bytes([UInt8])
        /// Cells among which some are phandles of labelled nodes; `resolvingPhandles()` turns it into `.cells`.
        case references([Cell])

        /// A 64-bit number as two cells, most significant first.
        public static func u64(_ v: UInt64) -> Value { .cells([UInt32(v >> 32), UInt32(truncatingIfNeeded: v)]) }

        /// The property's bytes as a DTB stores them (big-endian cells, NUL-terminated strings).
        /// Unresolved references encode as 0 (`FlattenedDeviceTree.encode` resolves them first).
        public var encoded: [UInt8] {
            switch self {
            case .empty: return []
            case let .cells(cells): return Self.bigEndian(cells)
            case let .string(s): return Array(s.utf8) + [0]
            case let .strings(list): return list.flatMap { Array($0.utf8) + [0] }
            case let .bytes(b): return b
            case let .references(cells):
                return Self.bigEndian(cells.map { if case let .number(n) = $0 { n } else { 0 } })
            }
        }

        static func bigEndian(_ cells: [UInt32]) -> [UInt8] {
            cells.flatMap { c in (0..<4).map { UInt8(truncatingIfNeeded: c >> (24 - 8 * $0)) } }
        }
    }

    public var name: String
    /// A source label other nodes' `.references` use; written as a `phandle` property.
    public var label: String?
    public var properties: [(String, Value)]
    public var children: [DeviceTreeNode]

    public init(_ name: String, label: String? = nil, properties: [(String, Value)] = [], children: [DeviceTreeNode] = []) {
        self.name = name
        self.label = label
        self.properties = properties
        self.children = children
    }

    public static func == (a: DeviceTreeNode, b: DeviceTreeNode) -> Bool {
        a.name == b.name && a.label == b.label && a.children == b.children && a.properties.count == b.properties.count
            && zip(a.properties, b.properties).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public func property(_ name: String) -> Value? { properties.first { $0.0 == name }?.1 }
    public func child(_ name: String) -> DeviceTreeNode? { children.first { $0.name == name } }

    /// The node at a path such as "/cpus/cpu@0" ("/" is this node).
    public func node(at path: String) -> DeviceTreeNode? {
        var node = self
        for component in path.split(separator: "/") {
            guard let next = node.child(String(component)) else { return nil }
            node = next
        }
        return node
    }

    /// Every node with its path, depth first, this one ("/") first.
    public func allNodes(path: String = "/") -> [(path: String, node: DeviceTreeNode)] {
        [(path, self)] + children.flatMap { $0.allNodes(path: (path == "/" ? "/" : path + "/") + $0.name) }
    }

    /// The tree as written: every labelled node gets a `phandle` property (1, 2, ... depth first)
    /// and every `.references` value becomes `.cells`. A reference to a label no node carries is
    /// a programming error of the tree's builder.
    public func resolvingPhandles() -> DeviceTreeNode {
        var phandles: [String: UInt32] = [:]
        for (_, node) in allNodes() {
            if let label = node.label, phandles[label] == nil { phandles[label] = UInt32(phandles.count + 1) }
        }
        func resolve(_ node: DeviceTreeNode) -> DeviceTreeNode {
            var copy = node
            copy.properties = node.properties.map { name, value in
                guard case let .references(cells) = value else { return (name, value) }
                return (name, .cells(cells.map { cell in
                    switch cell {
                    case let .number(n): return n
                    case let .reference(label):
                        guard let phandle = phandles[label] else { preconditionFailure("device tree: no node labelled '\(label)'") }
                        return phandle
                    }
                }))
            }
            if let label = node.label, let phandle = phandles[label], node.property("phandle") == nil {
                copy.properties.insert(("phandle", .cells([phandle])), at: 0)
            }
            copy.children = node.children.map(resolve)
            return copy
        }
        return resolve(self)
    }
}
