/// What one VM sees of a block: its lines, renumbered from 0 in the order the platform names
/// them (owned lines first, then read-only ones), each with its block line and access. A VM
/// sees nothing else of the block: no other line is addressable, named or reported.
public struct GpioLineMap: Sendable, Equatable {
    /// Lines one VM may see: bounds the names block and the per-line state.
    public static let maxLines = 512
    /// Longest line name (the GPIO uAPI's 32-byte names, with their NUL).
    public static let maxNameLength = 31

    public struct Line: Sendable, Equatable {
        public var name: String
        /// Its index in the block.
        public var blockLine: Int
        /// Shared read-only: input only, SET_VALUE and output refused.
        public var readOnly: Bool
    }

    public let lines: [Line]
    /// §5.17.6.1: each name, NUL-terminated, in line order.
    public let namesBlock: [UInt8]

    public init(lines: [Line]) throws(GpioLineMapError) {
        guard !lines.isEmpty else { throw .noLines }
        guard lines.count <= Self.maxLines else { throw .tooManyLines(lines.count) }
        var seen: Set<String> = [], blockLines: Set<Int> = []
        for line in lines {
            guard Self.isValidName(line.name) else { throw .badName(line.name) }
            guard seen.insert(line.name).inserted, blockLines.insert(line.blockLine).inserted else { throw .duplicate(line.name) }
        }
        self.lines = lines
        namesBlock = lines.flatMap { Array($0.name.utf8) + [0] }
    }

    /// The view of `block` whose `owned` lines the VM drives and `readOnly` lines it only reads.
    public init(block: GpioBlock, owned: [String], readOnly: [String]) throws(GpioLineMapError) {
        var lines: [Line] = []
        for (name, ro) in owned.map({ ($0, false) }) + readOnly.map({ ($0, true) }) {
            guard let index = block.index(of: name) else { throw .unknownLine(name) }
            lines.append(Line(name: name, blockLine: index, readOnly: ro))
        }
        try self.init(lines: lines)
    }

    /// Printable 7-bit ASCII (§5.17.6.1), 1 to 31 bytes.
    public static func isValidName(_ name: String) -> Bool {
        (1...maxNameLength).contains(name.utf8.count) && name.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}

public enum GpioLineMapError: Error, Sendable, Equatable, CustomStringConvertible {
    case noLines
    case tooManyLines(Int)
    case badName(String)
    case duplicate(String)
    case unknownLine(String)

    public var description: String {
        switch self {
        case .noLines: "a VM needs at least one GPIO line"
        case let .tooManyLines(n): "\(n) lines is more than the \(GpioLineMap.maxLines) one VM may see"
        case let .badName(n): "line name '\(n)' is not 1 to \(GpioLineMap.maxNameLength) printable ASCII characters"
        case let .duplicate(n): "line '\(n)' is given twice"
        case let .unknownLine(n): "the block has no line '\(n)'"
        }
    }
}
