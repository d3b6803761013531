/// Device tree source text (DTS) for a tree, as `dtc` reads it.
public enum DeviceTreeSource {
    public static func render(_ root: DeviceTreeNode) -> String {
        var out = "/dts-v1/;\n\n"
        func value(_ v: DeviceTreeNode.Value) -> String {
            switch v {
            case .empty: return ""
            case let .cells(c): return " = <" + c.map { "0x" + String($0, radix: 16) }.joined(separator: " ") + ">"
            case let .string(s): return " = \"" + escape(s) + "\""
            case let .strings(l): return " = " + l.map { "\"" + escape($0) + "\"" }.joined(separator: ", ")
            case let .bytes(b): return " = [" + b.map { String(format: "%02x", $0) }.joined(separator: " ") + "]"
            case let .references(cells):
                return " = <" + cells.map { cell in
                    switch cell {
                    case let .number(n): return "0x" + String(n, radix: 16)
                    case let .reference(label): return "&" + label
                    }
                }.joined(separator: " ") + ">"
            }
        }
        func escape(_ s: String) -> String { s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
        func emit(_ node: DeviceTreeNode, _ indent: String) {
            out += indent + (node.label.map { $0 + ": " } ?? "") + (node.name.isEmpty ? "/" : node.name) + " {\n"
            for (name, v) in node.properties { out += indent + "\t" + name + value(v) + ";\n" }
            for child in node.children {
                out += "\n"
                emit(child, indent + "\t")
            }
            out += indent + "};\n"
        }
        emit(root, "")
        return out
    }
}

import Foundation
